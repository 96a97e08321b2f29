using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The heartbeat-totals reads of <see cref="IGatewayStore"/> (<see cref="IHeartbeatTotalsStore"/>) on a SQLite file and a real
/// PostgreSQL server: the newest heartbeat with totals before a time, and what heartbeats without totals reported in a window. The HTTP
/// losses API and the FA/hour denominator over them are <c>Monitoring/HeartbeatLoss_Tests</c> (SQLite only).</summary>
[Collection("postgres")]
public sealed class GatewayStoreTotals_Tests(PostgresFixture postgres) : IDisposable
{
    private const string Dev = "dev-t", Other = "dev-u";
    private static readonly DateTimeOffset T0 = Wire.Time0;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Reads_the_latest_totals_before_a_time_and_the_losses_of_heartbeats_without_totals(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        StoreWrite[] writes =
        [
            Heartbeat(Dev, 1, minute: 1, evicted: 2, expired: 1, totals: null),
            Heartbeat(Dev, 2, minute: 2, evicted: 3, expired: 0, totals: null),
            Heartbeat(Dev, 3, minute: 3, evicted: 0, expired: 0, totals: Totals(180, lostDetections: 1)),
            Heartbeat(Dev, 4, minute: 4, evicted: 0, expired: 0, totals: Totals(240, lostDetections: 2)),
            Heartbeat(Dev, 5, minute: 10, evicted: 7, expired: 7, totals: null), // outside the windows read below
            Heartbeat(Other, 1, minute: 1, evicted: 9, expired: 9, totals: null),
            Heartbeat(Other, 2, minute: 4, evicted: 0, expired: 0, totals: Totals(999, lostDetections: 0)),
        ];
        var results = new IngestResult[writes.Length];
        store.WriteBatch(writes, results);
        Assert.All(results, r => Assert.Equal(IngestOutcome.Stored, r.Outcome));

        HeartbeatTotalsRecord? latest = store.ReadLatestHeartbeatTotals(Dev, T0.AddMinutes(5));
        Assert.NotNull(latest);
        Assert.Equal((Dev, 4L, T0.AddMinutes(4), 240.0, 2L), (latest.DeviceId, latest.Sequence, latest.DeviceTimeUtc, latest.Totals.ListeningSeconds,
            HeartbeatListening.DetectionsLost(latest.Totals)));
        // Strictly before: the heartbeat at that very time is not it.
        Assert.Equal(3L, store.ReadLatestHeartbeatTotals(Dev, T0.AddMinutes(4))?.Sequence);
        Assert.Null(store.ReadLatestHeartbeatTotals(Dev, T0.AddMinutes(3)));
        Assert.Null(store.ReadLatestHeartbeatTotals("nobody", T0.AddDays(1)));

        // [from, to): heartbeats 1 and 2 of the device, not its ones with totals, not the other device's.
        Assert.Equal(new LegacyHeartbeatLosses(2, 119.0, 5, 1), store.ReadLegacyHeartbeatLosses(Dev, T0, T0.AddMinutes(5)));
        Assert.Equal(new LegacyHeartbeatLosses(1, 59.5, 3, 0), store.ReadLegacyHeartbeatLosses(Dev, T0.AddMinutes(2), T0.AddMinutes(3)));
        Assert.Equal(new LegacyHeartbeatLosses(0, 0.0, 0, 0), store.ReadLegacyHeartbeatLosses(Dev, T0.AddMinutes(3), T0.AddMinutes(5)));
    }

    private static HeartbeatTotals Totals(double listeningSeconds, long lostDetections) => new()
    {
        Epoch = "epoch-1",
        ListeningSeconds = listeningSeconds,
        Detections = 3,
        Outbox = new OutboxTotals { Detection = new OutboxClassTotals { Written = 3, Evicted = lostDetections } },
    };

    // Device time T0 + minute, 59.5 listening seconds in the interval.
    private static StoreWrite Heartbeat(string device, long seq, int minute, long evicted, long expired, HeartbeatTotals? totals)
    {
        Heartbeat h = Wire.Heartbeat(device, minute);
        byte[] payload = WireJson.Serialize(new Heartbeat
        {
            DeviceId = h.DeviceId,
            DeviceTimeUtc = h.DeviceTimeUtc,
            IntervalSeconds = h.IntervalSeconds,
            ListeningSeconds = h.ListeningSeconds,
            Detections = h.Detections,
            OutboxEvictedCount = evicted,
            OutboxExpiredCount = expired,
            ModelVersion = h.ModelVersion,
            RssBytes = h.RssBytes,
            UptimeSeconds = h.UptimeSeconds,
            Totals = totals,
        });
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, MessageKind.Heartbeat), payload,
            Wire.Properties(seq, MessageKind.Heartbeat, null).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, T0.AddHours(1));
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }
}

using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Ingest;

/// <summary>
/// A store outage during ingest: the gateway's PostgreSQL server is stopped while a device streams detections through
/// the embedded broker, and started again. Nothing may be quarantined (the messages are valid; the store was away) and
/// nothing lost: the gateway does not acknowledge what it could not store, the device's uplink re-sends it, and every
/// sequence ends up stored exactly once.
/// </summary>
public sealed class StoreOutage_Tests(ITestOutputHelper output)
{
    private const string Device = "dev-outage";

    [Fact]
    public async Task A_store_outage_during_ingest_quarantines_nothing_and_loses_nothing()
    {
        using LocalPostgres pg = LocalPostgres.Start();
        string connection = pg.ConnectionString(pg.CreateDatabase());
        await using InProcessGateway g = await InProcessGateway.StartAsync(
            o => o.Store = new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = connection }, Device);

        var outbox = new InMemoryOutboxQueue();
        void Produce(int from, int to)
        {
            for (int i = from; i <= to; i++)
                outbox.Enqueue(Topics.Uplink(Device, MessageKind.Detection), WireJson.Serialize(Wire.Detection(Device, i)), Wire.ConfigHash);
        }

        await using var uplink = new MqttUplink(Wire.UplinkOptions(g.Port, Device), outbox);
        Produce(1, 100);
        uplink.Start();
        await TestWait.UntilAsync(() => outbox.Acknowledged.Length == 100, TimeSpan.FromMinutes(3), () => $"{outbox.Acknowledged.Length} of 100 acknowledged before the outage");

        // The outage begins before the rest is produced, so these messages certainly meet it.
        pg.StopServer();
        Produce(101, 300);
        await TestWait.UntilAsync(() => g.Service.Metrics.Snapshot().StoreUnavailable >= 1, TimeSpan.FromMinutes(3),
            () => $"the gateway has not met the outage: {g.Service.Metrics.Snapshot()}");
        // The gateway dropped the device; while the store is down it cannot check credentials either, so the device's
        // reconnects are refused ("server unavailable") and it keeps its messages. Let it try a few times.
        long attempts = uplink.Stats.ConnectAttempts;
        await TestWait.UntilAsync(() => uplink.Stats.ConnectAttempts >= attempts + 3, TimeSpan.FromMinutes(3), () => $"the device stopped trying: {uplink.Stats}");
        long acknowledgedDuringOutage = outbox.Acknowledged.Length;
        pg.StartServer();

        await TestWait.UntilAsync(() => outbox.Count == 0, TimeSpan.FromMinutes(5), () => $"{outbox.Count} messages still in the device's outbox; {uplink.LastError}");
        GatewayMetricsSnapshotLine(g);
        Assert.Equal(100, acknowledgedDuringOutage); // nothing was acknowledged that was not stored
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), g.Store.ReadSequences(Device));
        Assert.Equal(0, g.Store.Count().Quarantined);
        Assert.Equal(0, g.Service.Metrics.Snapshot().Quarantined);
        Assert.Empty(outbox.DeadLettered);
        Assert.Contains(g.Log.Lines, l => l.Contains("the store is unavailable", StringComparison.Ordinal));
        Assert.Contains(g.Log.Lines, l => l.Contains("credentials cannot be checked", StringComparison.Ordinal));
        Assert.True(uplink.Stats.Connects > 1, "the device reconnected after the gateway dropped it");
    }

    private void GatewayMetricsSnapshotLine(InProcessGateway g) => output.WriteLine(g.Service.Metrics.Snapshot().ToString());
}

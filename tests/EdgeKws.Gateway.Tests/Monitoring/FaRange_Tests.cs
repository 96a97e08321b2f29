using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Monitoring;

/// <summary>FA/hour as a range (docs/gateway.md, "FA/hour as a range"): the decided value and the upper end with every detection
/// pending review counted as a false accept, on both stores, read through <see cref="FleetMonitor"/> as the API, the alert rules and
/// Prometheus read it.</summary>
[Collection("postgres")]
public sealed class FaRange_Tests(PostgresFixture postgres) : IDisposable
{
    private const string Device = "dev-r";
    private const string Model = "kws-1.0.0";
    private static readonly DateTimeOffset Received = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A fixed "now": one hour after the fixture's detections, so the 24 h window and its hourly buckets hold them all.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static StoreWrite Valid(MessageKind kind, byte[] payload, long seq)
    {
        var envelope = new IngestEnvelope(Device, Topics.Uplink(Device, kind), payload,
            Wire.Properties(seq, kind, kind == MessageKind.Heartbeat ? null : Wire.ConfigHash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(),
            null, Received);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    private static byte[] Heartbeat(int minute) => WireJson.Serialize(new Heartbeat
    {
        DeviceId = Device,
        DeviceTimeUtc = Wire.Time0.AddMinutes(minute),
        IntervalSeconds = 3600,
        ListeningSeconds = 3600,
        Detections = 0,
        ModelVersion = Model,
        RssBytes = 12_000_000,
        UptimeSeconds = 60 * minute,
    });

    private static FaGroup Device24h(FleetMonitor monitor) => Assert.Single(monitor.FalseAcceptRates(TimeSpan.FromHours(24), FaScope.Device));

    /// <summary>
    /// Two listening hours and seven detections, one of each kind the definition separates:
    /// seq 3 audio clip stored, no label (the worker's input): pending; seq 5 features only, no label: pending; seq 6 clip not
    /// arrived: not pending; seq 7 no clip, no label: not pending; seq 8 labelled Unknown (review queue): pending; seq 9 labelled
    /// FalseAccept; seq 11 labelled TrueAccept (its clip stored). Decided 1 FA in 2 h = 0.5 FA/h; upper (1 + 3) / 2 = 2.0 FA/h.
    /// </summary>
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Pending_clips_widen_the_range_and_deciding_them_moves_or_shrinks_the_upper_end(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        Guid audio = Guid.NewGuid(), features = Guid.NewGuid(), late = Guid.NewGuid(), decided = Guid.NewGuid();
        StoreWrite[] writes =
        [
            Valid(MessageKind.Heartbeat, Heartbeat(1), 1),
            Valid(MessageKind.ClipAudio, Wire.AudioClip(audio, 1600), 2),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 3).WithClip(audio)), 3),
            Valid(MessageKind.ClipFeatures, Wire.FeatureClip(features, 8), 4),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 5).WithClip(features)), 5),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 6).WithClip(late)), 6),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 7)), 7),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 8)), 8),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 9)), 9),
            Valid(MessageKind.ClipAudio, Wire.AudioClip(decided, 1600), 10),
            Valid(MessageKind.Detection, WireJson.Serialize(Wire.Detection(Device, 11).WithClip(decided)), 11),
            Valid(MessageKind.Heartbeat, Heartbeat(59), 12),
        ];
        var results = new IngestResult[writes.Length];
        store.WriteBatch(writes, results);
        Assert.All(results, r => Assert.Equal(IngestOutcome.Stored, r.Outcome));
        Assert.All(store.WriteLabels(
        [
            new DetectionLabel(Device, 8, DetectionLabelKind.Unknown, "test:queue", Received),
            new DetectionLabel(Device, 9, DetectionLabelKind.FalseAccept, "test:decided", Received),
            new DetectionLabel(Device, 11, DetectionLabelKind.TrueAccept, "test:decided", Received),
        ]), Assert.Null);
        var monitor = new FleetMonitor(store, new FixedClock(Wire.Time0.AddHours(1)));

        FaGroup g = Device24h(monitor);
        Assert.Equal(2.0, g.ListeningHours);
        Assert.Equal((1L, 1L, 5L, 3L), (g.TrueAccepts, g.FalseAccepts, g.Unlabelled, g.PendingReview));
        Assert.Equal(0.5, g.FaPerHour);
        Assert.Equal(2.0, g.FaPerHourUpper);
        FaGroup fleet = Assert.Single(monitor.FalseAcceptRates(TimeSpan.FromHours(24), FaScope.Fleet));
        Assert.Equal((3L, 0.5, 2.0), (fleet.PendingReview, fleet.FaPerHour!.Value, fleet.FaPerHourUpper!.Value));
        // The series: every detection and both heartbeats fall in the 12:00 bucket.
        FaSeriesPoint point = Assert.Single(Assert.Single(monitor.FalseAcceptSeries(TimeSpan.FromHours(24), TimeSpan.FromHours(1))).Points,
            p => p.BucketStartUtc == Wire.Time0);
        Assert.Equal((1L, 3L, 0.5, 2.0), (point.FalseAccepts, point.PendingReview, point.FaPerHour!.Value, point.FaPerHourUpper!.Value));

        // Deciding a pending clip as a false accept moves it from pending into decided: the upper end stays.
        Assert.All(store.WriteLabels([new DetectionLabel(Device, 3, DetectionLabelKind.FalseAccept, "test:review", Received)]), Assert.Null);
        g = Device24h(monitor);
        Assert.Equal((2L, 2L, 1.0, 2.0), (g.FalseAccepts, g.PendingReview, g.FaPerHour!.Value, g.FaPerHourUpper!.Value));

        // Deciding one as a true accept shrinks the upper end by 1 / 2 h; the decided value stays.
        Assert.All(store.WriteLabels([new DetectionLabel(Device, 5, DetectionLabelKind.TrueAccept, "test:review", Received)]), Assert.Null);
        g = Device24h(monitor);
        Assert.Equal((2L, 1L, 1.0, 1.5), (g.TrueAccepts, g.PendingReview, g.FaPerHour!.Value, g.FaPerHourUpper!.Value));

        // The review queue's item decided through the review path: nothing is pending, the range closes.
        Assert.Null(store.DecideReview(Device, 8, DetectionLabelKind.TrueAccept, "carol", Received));
        g = Device24h(monitor);
        Assert.Equal((0L, 1.0, 1.0), (g.PendingReview, g.FaPerHour!.Value, g.FaPerHourUpper!.Value));
        Assert.Equal(2L, g.Unlabelled); // seq 6 (clip not arrived) and 7 (no clip) stay unlabelled, never pending

        // The clip of seq 6 arrives: it is pending again until someone decides it.
        store.WriteBatch([Valid(MessageKind.ClipFeatures, Wire.FeatureClip(late, 8), 13)], new IngestResult[1]);
        g = Device24h(monitor);
        Assert.Equal((1L, 1.0, 1.5), (g.PendingReview, g.FaPerHour!.Value, g.FaPerHourUpper!.Value));

        // Erasing the device's data clears the detections' clip references and labels: nothing is left to decide them with.
        store.EraseDevice(Device, keepCredential: true, Received);
        g = Device24h(monitor);
        Assert.Equal((0L, 0L, 0.0, 0.0), (g.FalseAccepts, g.PendingReview, g.FaPerHour!.Value, g.FaPerHourUpper!.Value));
    }

    [Fact]
    public void Range_text_names_both_ends_and_the_pending_count()
    {
        Assert.Equal("0.8 – 2.4 FA/h (3 pending review)", FaRangeText.Format(0.8, 2.4, 3));
        Assert.Equal("0.128 – 0.17 FA/h (1 pending review)", FaRangeText.Format(3 / 23.52, 4 / 23.52, 1));
    }
}

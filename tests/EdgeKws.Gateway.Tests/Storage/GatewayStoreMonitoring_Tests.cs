using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The monitoring members of <see cref="IGatewayStore"/> (schema version 2), run against both implementations: a
/// SQLite file and a real PostgreSQL server (see <see cref="PostgresFixture"/>).</summary>
[Collection("postgres")]
public sealed class GatewayStoreMonitoring_Tests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset T0 = Wire.Time0; // 12:00 UTC: hour buckets start here

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private StoreOptions Options(string provider) => postgres.StoreOptions(provider, _dir);

    // Millisecond precision, as stored.
    private static DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    // A message that passed the real validator, received at a chosen gateway time.
    private static StoreWrite Valid(string device, MessageKind kind, byte[] payload, long seq, string? hash, DateTimeOffset receivedUtc)
    {
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, kind), payload,
            Wire.Properties(seq, kind, hash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, receivedUtc);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    // Detection n of Wire.Detection: device time T0 + n s.
    private static StoreWrite Detection(string device, long seq, DateTimeOffset receivedUtc, int n = -1) =>
        Valid(device, MessageKind.Detection, WireJson.Serialize(Wire.Detection(device, n < 0 ? (int)seq : n)), seq, Wire.ConfigHash, receivedUtc);

    // Heartbeat n of Wire.Heartbeat: device time T0 + n min, 59.5 listening seconds.
    private static StoreWrite Heartbeat(string device, long seq, int n) =>
        Valid(device, MessageKind.Heartbeat, WireJson.Serialize(Wire.Heartbeat(device, n)), seq, null, DateTimeOffset.UtcNow);

    private static StoreWrite Quarantined(DateTimeOffset receivedUtc) =>
        new(new IngestEnvelope("dev-q", "edgekws/v1/dev-q/junk", [1, 2, 3], [], null, receivedUtc), null, RejectionKind.InvalidTopic, "unknown kind 'junk'");

    private static void Write(IGatewayStore store, params StoreWrite[] writes)
    {
        var results = new IngestResult[writes.Length];
        store.WriteBatch(writes, results);
        Assert.All(results, r => Assert.NotEqual(IngestOutcome.Duplicate, r.Outcome));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Migrates_a_version_1_database_to_the_current_version_keeping_its_rows(string provider)
    {
        StoreOptions options = Options(provider);
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            Write(store, Detection("dev-m", 1, DateTimeOffset.UtcNow));
        }
        // Turn the database back into version 1: drop what version 2 added.
        postgres.RawSql(options,
        [
            .. new[] { "labels", "models", "evaluations", "alerts", "dataset_members", "model_datasets", "model_taints", "clip_skew", "label_provenance", "review_entries", "label_audits", "registry_models", "rollouts", "api_tokens", "audit_log" }.Select(t => $"DROP TABLE {t}"),
            .. new[] { "messages_received", "quarantine_received", "heartbeats_time", "sketches_window_end", "detections_model", "clips_received", "detections_clip", "model_status_received" }.Select(i => $"DROP INDEX {i}"),
            "ALTER TABLE devices DROP COLUMN cohort",
            provider == "sqlite" ? "PRAGMA user_version = 1" : "UPDATE schema_info SET version = 1",
        ]);

        // PostgreSQL is shared: two instances starting together on a version 1 database migrate it once (under the advisory
        // lock), and neither fails. A SQLite file has one gateway.
        int instances = provider == "postgres" ? 2 : 1;
        IGatewayStore[] stores = await Task.WhenAll(Enumerable.Range(0, instances).Select(_ => Task.Run(() => GatewayStores.Open(options))));
        try
        {
            foreach (IGatewayStore store in stores)
            {
                Assert.Equal([1L], store.ReadSequences("dev-m"));
            }
            IGatewayStore s = stores[^1];
            Assert.True(s.SetDeviceCohort("dev-m", "lab"));
            Assert.Equal("lab", stores[0].ReadDevices().Single().Cohort);
            Assert.Equal([null], s.WriteLabels([new DetectionLabel("dev-m", 1, DetectionLabelKind.FalseAccept, "test", DateTimeOffset.UtcNow)]));
            s.ApplyAlerts([new AlertCondition("k", "drift", AlertSeverity.Warning, "fleet", "m", "/api/alerts", null)], DateTimeOffset.UtcNow);
            Assert.Single(stores[0].ReadAlerts(activeOnly: true, 10));
        }
        finally
        {
            foreach (IGatewayStore store in stores)
            {
                store.Dispose();
            }
        }
        Assert.Equal(provider == "sqlite" ? SqliteGatewayStore.SchemaVersion : PostgresGatewayStore.SchemaVersion,
            postgres.RawScalar(options, provider == "sqlite" ? "PRAGMA user_version" : "SELECT max(version) FROM schema_info"));
        if (provider == "postgres")
        {
            Assert.Equal(1, postgres.RawScalar(options, "SELECT count(*) FROM schema_info"));
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_new_label_replaces_the_previous_decision_and_keeps_its_source(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        Write(store, Detection("dev-l", 1, DateTimeOffset.UtcNow), Detection("dev-l", 2, DateTimeOffset.UtcNow));
        DateTimeOffset t0 = Now();
        store.WriteLabels([new DetectionLabel("dev-l", 1, DetectionLabelKind.Unknown, "auto:asr", t0)]);
        Assert.Equal(1, store.CountReviewQueue());
        store.WriteLabels([new DetectionLabel("dev-l", 1, DetectionLabelKind.FalseAccept, "human:ana", t0.AddMinutes(1))]);
        DetectionLabel label = Assert.Single(store.ReadLabels("dev-l", 10));
        Assert.Equal(new DetectionLabel("dev-l", 1, DetectionLabelKind.FalseAccept, "human:ana", t0.AddMinutes(1)), label);
        Assert.Equal(0, store.CountReviewQueue());

        // Each label is refused or stored on its own, with the reason; of two labels of one detection in one call the later wins.
        IReadOnlyList<string?> results = store.WriteLabels(
        [
            new DetectionLabel("dev-l", 99, DetectionLabelKind.FalseAccept, "human:ana", t0),
            new DetectionLabel("dev-l", 2, DetectionLabelKind.TrueAccept, " ", t0),
            new DetectionLabel("dev-l", 2, DetectionLabelKind.FalseAccept, "human:bo", t0.AddMinutes(2)),
            new DetectionLabel("dev-l", 2, DetectionLabelKind.Unknown, "human:cy", t0.AddMinutes(3)),
        ]);
        Assert.Equal(["no detection (dev-l, 99) is stored", "source must be 1..128 characters", null, null], results);
        Assert.Equal(1, store.CountReviewQueue());
        Assert.Equal([(2L, DetectionLabelKind.Unknown, "human:cy"), (1L, DetectionLabelKind.FalseAccept, "human:ana")],
            store.ReadLabels(null, 10).Select(l => (l.Sequence, l.Label, l.Source)));
        Assert.Equal([2L], store.ReadLabels(null, 1).Select(l => l.Sequence));
        // The detection carries its label.
        DetectionRecord d1 = store.ReadDetections(new DetectionQuery(T0, T0.AddHours(1), "dev-l")).Single(d => d.Sequence == 1);
        Assert.Equal(label, d1.Label);

        Assert.False(store.SetDeviceCohort("nobody", "lab"));
        Assert.Throws<ArgumentException>(() => store.SetDeviceCohort("dev-l", "bad\ncohort"));
        Assert.True(store.SetDeviceCohort("dev-l", "lab"));
        Assert.Equal(("dev-l", "lab"), store.ReadCohorts().Select(kv => (kv.Key, kv.Value)).Single());
        Assert.True(store.SetDeviceCohort("dev-l", null));
        Assert.Empty(store.ReadCohorts());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void No_data_fires_only_for_the_device_silent_past_the_limit(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        Write(store, Detection("dev-quiet", 1, now.AddMinutes(-5).AddSeconds(-1)), Detection("dev-busy", 1, now.AddMinutes(-4).AddSeconds(-50)));
        var clock = new ShiftedClock();
        var options = new MonitoringOptions();
        var rules = new AlertRules(store, new FleetMonitor(store, clock), options);

        AlertCondition only = Assert.Single(rules.Evaluate());
        Assert.Equal("no-data/device/dev-quiet", only.Key);
        Assert.Equal("/api/devices/dev-quiet", only.EvidenceUrl);

        store.ApplyAlerts(rules.Evaluate(), clock.GetUtcNow());
        store.ApplyAlerts(rules.Evaluate(), clock.GetUtcNow());
        Assert.Single(store.ReadAlerts(activeOnly: false, 10)); // deduplicated while active

        clock.Offset = TimeSpan.FromSeconds(15); // dev-busy now silent 5:05 as well; the fleet too (newest message 5:05 ago)
        Assert.Equal(["no-data/device/dev-busy", "no-data/device/dev-quiet", "no-data/fleet"], rules.Evaluate().Select(c => c.Key).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Alerts_are_deduplicated_while_active_resolved_when_clear_and_opened_anew_when_they_return(string provider)
    {
        StoreOptions options = Options(provider);
        using IGatewayStore store = GatewayStores.Open(options);
        DateTimeOffset t0 = Now(), since = t0.AddMinutes(-10);
        static AlertCondition A(string key, AlertSeverity severity, string message, DateTimeOffset? since) =>
            new(key, "drift", severity, "model:kws-1.0.0", message, "/api/metrics/drift?model=kws-1.0.0", since);

        store.ApplyAlerts([A("k1", AlertSeverity.Warning, "first", since), A("k2", AlertSeverity.Critical, "two", null), A("k1", AlertSeverity.Critical, "same key again", null)], t0);
        AlertRecord[] opened = [.. store.ReadAlerts(activeOnly: true, 10)];
        Assert.Equal(["k2", "k1"], opened.Select(a => a.Key)); // newest first
        AlertRecord k1 = opened[1];
        Assert.Equal((AlertSeverity.Warning, "first", since, t0), (k1.Severity, k1.Message, k1.SinceUtc, k1.LastEvaluatedUtc));
        Assert.Equal(t0, opened[0].SinceUtc); // no since given: first seen

        // Still firing: the same rows, with the latest severity and message; since stays.
        store.ApplyAlerts([A("k1", AlertSeverity.Critical, "worse", null), A("k2", AlertSeverity.Critical, "two", null)], t0.AddSeconds(30));
        Assert.Equal(2, store.ReadAlerts(activeOnly: false, 10).Count);
        AlertRecord k1b = store.ReadAlerts(activeOnly: true, 10).Single(a => a.Key == "k1");
        Assert.Equal((k1.Id, AlertSeverity.Critical, "worse", since, t0.AddSeconds(30)), (k1b.Id, k1b.Severity, k1b.Message, k1b.SinceUtc, k1b.LastEvaluatedUtc));

        // k1 clears: resolved at that evaluation.
        store.ApplyAlerts([A("k2", AlertSeverity.Critical, "two", null)], t0.AddMinutes(1));
        Assert.Equal(["k2"], store.ReadAlerts(activeOnly: true, 10).Select(a => a.Key));
        Assert.Equal(t0.AddMinutes(1), store.ReadAlerts(activeOnly: false, 10).Single(a => a.Key == "k1").ResolvedUtc);

        // k1 returns: a new alert, the resolved one stays history.
        store.ApplyAlerts([A("k1", AlertSeverity.Warning, "back", null), A("k2", AlertSeverity.Critical, "two", null)], t0.AddMinutes(2));
        AlertRecord[] all = [.. store.ReadAlerts(activeOnly: false, 10)];
        Assert.Equal(3, all.Length);
        Assert.Equal(("k1", true, "back"), (all[0].Key, all[0].IsActive, all[0].Message));
        Assert.True(all[0].Id > k1.Id);
        Assert.Equal([all[0].Id], store.ReadAlerts(activeOnly: false, 1).Select(a => a.Id));

        // Nothing fires: everything resolves.
        store.ApplyAlerts([], t0.AddMinutes(3));
        Assert.Empty(store.ReadAlerts(activeOnly: true, 10));

        // "One active alert per key" is a rule of the database itself (the partial unique index), not only of ApplyAlerts.
        const string Insert = "INSERT INTO alerts (key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms, resolved_utc_ms) VALUES ('k-raw', 'drift', 'Warning', 'fleet', 'm', '/api/alerts', 1, 1, ";
        postgres.RawSql(options, Insert + "5)", Insert + "6)", Insert + "NULL)"); // resolved rows of a key may repeat
        Exception refused = Assert.ThrowsAny<Exception>(() => postgres.RawSql(options, Insert + "NULL)"));
        Assert.Contains(provider == "sqlite" ? "UNIQUE constraint failed: alerts.key" : "alerts_active_key", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Counts_ingest_by_receive_time_in_a_window_open_at_the_start_and_closed_at_the_end(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        DateTimeOffset t = Now();
        Write(store,
            Detection("dev-i", 1, t), Detection("dev-i", 2, t.AddMilliseconds(1)), Detection("dev-i", 3, t.AddMilliseconds(2)),
            Quarantined(t.AddMilliseconds(1)), Quarantined(t.AddMilliseconds(3)));
        Assert.Equal(new IngestCounts(2, 1), store.CountIngest(t, t.AddMilliseconds(2)));
        Assert.Equal(new IngestCounts(1, 0), store.CountIngest(t.AddMilliseconds(-1), t));
        Assert.Equal(new IngestCounts(0, 1), store.CountIngest(t.AddMilliseconds(2), t.AddMilliseconds(3)));
        Assert.Equal(new IngestCounts(3, 2), store.CountIngest(t.AddSeconds(-1), t.AddSeconds(1)));
        Assert.Equal(new IngestCounts(0, 0), store.CountIngest(t.AddMilliseconds(3), t.AddSeconds(1)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Reads_activity_per_bucket_device_and_model_and_detections_newest_first(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        // dev-1: detections at T0 + 1, 2, 3 s; heartbeats at T0 + 10 min and T0 + 70 min. dev-2: one detection at T0 + 4 s.
        Write(store, Detection("dev-1", 1, now), Detection("dev-1", 2, now), Detection("dev-1", 3, now), Heartbeat("dev-1", 4, 10), Heartbeat("dev-1", 5, 70),
            Detection("dev-2", 1, now, n: 4));
        Assert.All(store.WriteLabels(
        [
            new DetectionLabel("dev-1", 1, DetectionLabelKind.FalseAccept, "human:ana", now),
            new DetectionLabel("dev-1", 2, DetectionLabelKind.TrueAccept, "human:ana", now),
            new DetectionLabel("dev-1", 3, DetectionLabelKind.Unknown, "auto:asr", now),
        ]), r => Assert.Null(r));

        const string M = "kws-1.0.0";
        // dev-1's Unknown label is in the review queue: pending review. dev-2's detection has no clip and no label: unlabelled, not pending.
        Assert.Equal(
        [
            new ActivityRow(T0, "dev-1", M, 59.5, 1, 1, 1, PendingReview: 1),
            new ActivityRow(T0, "dev-2", M, 0, 0, 0, 1),
            new ActivityRow(T0.AddHours(1), "dev-1", M, 59.5, 0, 0, 0),
        ], store.ReadActivity(T0, T0.AddHours(2), TimeSpan.FromHours(1)));
        // [from, to): the heartbeat at T0 + 70 min is outside the first hour; 10-minute buckets split the first hour.
        Assert.Equal([new ActivityRow(T0, "dev-1", M, 59.5, 1, 1, 1, PendingReview: 1), new ActivityRow(T0, "dev-2", M, 0, 0, 0, 1)],
            store.ReadActivity(T0, T0.AddHours(1), TimeSpan.FromHours(1)));
        Assert.Equal([T0, T0, T0.AddMinutes(10)], store.ReadActivity(T0, T0.AddHours(1), TimeSpan.FromMinutes(10)).Select(a => a.BucketStartUtc));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.ReadActivity(T0, T0.AddHours(1), TimeSpan.Zero));

        IReadOnlyList<DetectionRecord> all = store.ReadDetections(new DetectionQuery(T0, T0.AddHours(1)));
        Assert.Equal([("dev-2", 1L), ("dev-1", 3L), ("dev-1", 2L), ("dev-1", 1L)], all.Select(d => (d.DeviceId, d.Sequence)));
        DetectionRecord d1 = all[^1];
        Assert.Equal((T0.AddSeconds(1), 0.9f, "hey edge", M, (string?)null), (d1.DeviceTimeUtc, (float)d1.Score, d1.Keyword, d1.ModelVersion, d1.ClipId));
        Assert.Equal(DetectionLabelKind.FalseAccept, d1.Label!.Label);
        Assert.Null(all[0].Label);
        Assert.Equal([3L, 2L], store.ReadDetections(new DetectionQuery(T0, T0.AddHours(1), "dev-1", M, Limit: 2)).Select(d => d.Sequence));
        Assert.Empty(store.ReadDetections(new DetectionQuery(T0, T0.AddHours(1), ModelVersion: "kws-9")));
        Assert.Equal([("dev-1", 1L)], store.ReadDetections(new DetectionQuery(T0, T0.AddSeconds(2))).Select(d => (d.DeviceId, d.Sequence))); // end exclusive
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Keeps_models_baselines_sketches_and_evaluations(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        DateTimeOffset now = Now();
        // Two devices on kws-1.0.0 (detections at T0 + 1, 2 s), one drift sketch (window ends T0 + 1 h).
        Write(store, Detection("dev-1", 1, now), Detection("dev-2", 1, now, n: 2),
            Valid("dev-1", MessageKind.DriftSketch, WireJson.Serialize(Wire.Sketch("dev-1")), 2, Wire.ConfigHash, now));
        Assert.Equal([new ModelRecord("kws-1.0.0", 2, 2, T0.AddSeconds(1), false, null, null)], store.ReadModels());
        Assert.False(store.TryGetModelBaseline("kws-2.0.0", out _));

        DriftSketch baseline = Wire.Sketch("dev-1");
        store.SetModelBaseline("kws-2.0.0", baseline, now);
        store.SetModelBaseline("kws-2.0.0", baseline, now.AddMinutes(1)); // replaces
        Assert.Equal(
            [new ModelRecord("kws-1.0.0", 2, 2, T0.AddSeconds(1), false, null, null), new ModelRecord("kws-2.0.0", 0, 0, null, true, now.AddMinutes(1), Wire.ConfigHash)],
            store.ReadModels());
        Assert.True(store.TryGetModelBaseline("kws-2.0.0", out DriftSketch? stored));
        Assert.Equal(WireJson.Serialize(baseline), WireJson.Serialize(stored!));
        Assert.Throws<ArgumentException>(() => store.SetModelBaseline("", baseline, now));

        // Sketches by window end in [from, to), optionally of one model; they parse back to what was sent.
        StoredSketch sketch = Assert.Single(store.ReadSketches(T0, T0.AddHours(1).AddMilliseconds(1), "kws-1.0.0"));
        Assert.Equal(("dev-1", 2L), (sketch.DeviceId, sketch.Sequence));
        Assert.Equal(WireJson.Serialize(Wire.Sketch("dev-1")), WireJson.Serialize(sketch.Sketch));
        Assert.Empty(store.ReadSketches(T0, T0.AddHours(1), null));
        Assert.Empty(store.ReadSketches(T0, T0.AddHours(2), "kws-9"));

        float[] scores = [0f, 0.1f, 0.5f, 1f, 0.123456789f];
        bool[] positives = [false, false, true, true, false];
        long first = store.AddEvaluation(new EvaluationRecord(0, "kws-1.0.0", "set-a", now, 10, scores, positives));
        long second = store.AddEvaluation(new EvaluationRecord(0, "kws-2.0.0", "set-b", now.AddSeconds(1), 0, [0.7f], [true]));
        Assert.True(second > first);
        EvaluationRecord[] evaluations = [.. store.ReadEvaluations(null, 10)];
        Assert.Equal([second, first], evaluations.Select(e => e.Id));
        EvaluationRecord a = evaluations[1];
        Assert.Equal(("kws-1.0.0", "set-a", now, 10.0), (a.ModelVersion, a.Name, a.CreatedUtc, a.NegativeHours));
        Assert.Equal(scores, a.Scores);
        Assert.Equal(positives, a.Positives);
        Assert.Equal([first], store.ReadEvaluations("kws-1.0.0", 10).Select(e => e.Id));
        Assert.Equal([second], store.ReadEvaluations(null, 1).Select(e => e.Id));
        Assert.Throws<ArgumentException>(() => store.AddEvaluation(new EvaluationRecord(0, "kws-1.0.0", "bad", now, 0, [0.5f], [])));
    }
}

using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;
using SQLite;

namespace EdgeKws.Gateway.Tests.Storage;

public sealed class SqliteGatewayStore_Monitoring_Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // A detection that passed the real validator, received at a chosen gateway time.
    private static StoreWrite Detection(string device, long seq, DateTimeOffset receivedUtc)
    {
        byte[] payload = WireJson.Serialize(Wire.Detection(device, (int)seq));
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, MessageKind.Detection), payload,
            Wire.Properties(seq, MessageKind.Detection, Wire.ConfigHash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, receivedUtc);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    private static void Write(IGatewayStore store, params StoreWrite[] writes) => store.WriteBatch(writes, new IngestResult[writes.Length]);

    [Fact]
    public void Migrates_a_version_1_database_to_version_2_keeping_its_rows()
    {
        var options = new StoreOptions { DatabasePath = _dir.File("g.db") };
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(options))
        {
            Write(store, Detection("dev-m", 1, DateTimeOffset.UtcNow));
        }
        // Turn the file back into version 1: drop what version 2 added.
        using (var raw = new SQLiteConnection(options.DatabasePath))
        {
            foreach (string t in new[] { "labels", "models", "evaluations", "alerts" })
            {
                raw.Execute($"DROP TABLE {t}");
            }
            foreach (string i in new[] { "messages_received", "quarantine_received", "heartbeats_time", "sketches_window_end", "detections_model" })
            {
                raw.Execute($"DROP INDEX {i}");
            }
            raw.Execute("ALTER TABLE devices DROP COLUMN cohort");
            raw.Execute("PRAGMA user_version = 1");
        }
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(options))
        {
            Assert.Equal([1L], store.ReadSequences("dev-m"));
            Assert.True(store.SetDeviceCohort("dev-m", "lab"));
            Assert.Equal("lab", store.ReadDevices().Single().Cohort);
            Assert.Equal([null], store.WriteLabels([new DetectionLabel("dev-m", 1, DetectionLabelKind.FalseAccept, "test", DateTimeOffset.UtcNow)]));
        }
        using (var raw = new SQLiteConnection(options.DatabasePath))
        {
            Assert.Equal(SqliteGatewayStore.SchemaVersion, raw.ExecuteScalar<int>("PRAGMA user_version"));
        }
    }

    [Fact]
    public void A_new_label_replaces_the_previous_decision_and_keeps_its_source()
    {
        using SqliteGatewayStore store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = _dir.File("g.db") });
        Write(store, Detection("dev-l", 1, DateTimeOffset.UtcNow));
        DateTimeOffset t0 = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        store.WriteLabels([new DetectionLabel("dev-l", 1, DetectionLabelKind.Unknown, "auto:asr", t0)]);
        Assert.Equal(1, store.CountReviewQueue());
        store.WriteLabels([new DetectionLabel("dev-l", 1, DetectionLabelKind.FalseAccept, "human:ana", t0.AddMinutes(1))]);
        DetectionLabel label = Assert.Single(store.ReadLabels("dev-l", 10));
        Assert.Equal(new DetectionLabel("dev-l", 1, DetectionLabelKind.FalseAccept, "human:ana", t0.AddMinutes(1)), label);
        Assert.Equal(0, store.CountReviewQueue());
        Assert.False(store.SetDeviceCohort("nobody", "lab"));
        Assert.Throws<ArgumentException>(() => store.SetDeviceCohort("dev-l", "bad\ncohort"));
    }

    [Fact]
    public void No_data_fires_only_for_the_device_silent_past_the_limit()
    {
        using SqliteGatewayStore store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = _dir.File("g.db") });
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
}

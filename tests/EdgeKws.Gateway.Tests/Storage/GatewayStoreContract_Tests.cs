using System.Text;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Ingest;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The <see cref="IGatewayStore"/> contract, run against both implementations: a SQLite file and a real
/// PostgreSQL server (see <see cref="PostgresFixture"/>).</summary>
[Collection("postgres")]
public sealed class GatewayStoreContract_Tests(PostgresFixture postgres) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private StoreOptions Options(string provider) => postgres.StoreOptions(provider, _dir);

    private static StoreWrite Write(string device, MessageKind kind, byte[] payload, long? seq, string? hash, string? clientId = null, DateTimeOffset? receivedUtc = null)
    {
        var envelope = new IngestEnvelope(clientId ?? device, Topics.Uplink(device, kind), payload,
            (seq is { } s ? Wire.Properties(s, kind, hash) : [(UserProperties.SchemaVersion, "1")]).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(),
            null, receivedUtc ?? DateTimeOffset.UtcNow);
        return IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out RejectionKind k, out string why)
            ? new StoreWrite(envelope, m, RejectionKind.None, string.Empty)
            : new StoreWrite(envelope, null, k, why);
    }

    private static StoreWrite Detection(string device, long seq, int n) =>
        Write(device, MessageKind.Detection, WireJson.Serialize(Wire.Detection(device, n)), seq, Wire.ConfigHash);

    private static IngestOutcome[] WriteAll(IGatewayStore store, params StoreWrite[] writes)
    {
        var results = new IngestResult[writes.Length];
        store.WriteBatch(writes, results);
        return results.Select(r => r.Outcome).ToArray();
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Keeps_a_registered_models_float_weights_and_fine_tune_lineage_and_none_for_a_model_registered_without(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        System.Text.Json.JsonElement empty = System.Text.Json.JsonDocument.Parse("{}").RootElement.Clone();
        RegisteredModel Model(string version, FloatWeights? weights, FineTuneLineage? lineage) => new(
            "kws", version, null, "dataset-1", new string('c', 64), null, false, $"kws-{version}.int8.onnx", new string('b', 64), 3, 0.8f, "0123456789abcdef",
            1.0, 0.05, 0.2, "test set", true, "PROMOTE: test", null, empty, empty, null, ModelStage.Candidate, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch,
            weights, lineage);
        byte[] weightsBytes = [.. Enumerable.Range(0, 100_000).Select(i => (byte)(i * 13))];
        var package = new ModelPackage([(byte)'{', (byte)'}'], new byte[64], [1, 2, 3]);
        var lineage = new FineTuneLineage("1.0.0", new string('a', 64), "field-1", "base-1", "better: ...", "none of ...");
        Assert.True(store.TryAddRegisteredModel(Model("1.1.0", new FloatWeights(new string('d', 64), weightsBytes.Length), lineage), package, weightsBytes, out string why), why);
        Assert.True(store.TryAddRegisteredModel(Model("1.0.9", null, null), package, out why), why);

        Assert.True(store.TryGetModelFloatWeights("1.1.0", out byte[]? back));
        Assert.Equal(weightsBytes, back);
        Assert.False(store.TryGetModelFloatWeights("1.0.9", out back));
        Assert.Null(back);
        Assert.False(store.TryGetModelFloatWeights("9.9.9", out _));
        Assert.True(store.TryGetRegisteredModel("1.1.0", out RegisteredModel? m));
        Assert.Equal(lineage, m!.FineTune);
        Assert.Equal(weightsBytes.Length, m.FloatWeights!.SizeBytes);
        Assert.True(store.TryGetRegisteredModel("1.0.9", out m));
        Assert.Null(m!.FloatWeights);
        Assert.Null(m.FineTune);
        Assert.True(store.TryGetModelPackage("1.1.0", out ModelPackage? p));
        Assert.Equal(package.Model, p!.Model); // the device package is unchanged by the float weights beside it
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Stores_once_treats_a_redelivery_as_duplicate_and_quarantines_a_reused_sequence(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        Assert.Equal([IngestOutcome.Stored, IngestOutcome.Stored, IngestOutcome.Duplicate],
            WriteAll(store, Detection("dev-a", 1, 1), Detection("dev-a", 2, 2), Detection("dev-a", 1, 1)));
        // Same key, different bytes: the device reused a sequence; the original stays.
        var results = new IngestResult[2];
        store.WriteBatch([Detection("dev-a", 2, 99), Detection("dev-a", 2, 2)], results);
        Assert.Equal(IngestOutcome.Quarantined, results[0].Outcome);
        Assert.Equal(RejectionKind.SequenceConflict, results[0].Rejection);
        Assert.Contains("sequence 2 of device 'dev-a' is already stored with different content", results[0].Reason, StringComparison.Ordinal);
        Assert.Equal(IngestOutcome.Duplicate, results[1].Outcome);

        Assert.Equal([1L, 2L], store.ReadSequences("dev-a"));
        StoreCounts c = store.Count();
        Assert.Equal((2, 2, 1, 1), (c.Messages, c.Detections, c.Quarantined, c.Devices));
        QuarantineRecord q = Assert.Single(store.ReadQuarantine(0, 10));
        Assert.Equal(RejectionKind.SequenceConflict, q.Rejection);
        Assert.Equal(WireJson.Serialize(Wire.Detection("dev-a", 99)), q.Payload);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Stores_every_kind_in_its_table_and_keeps_presence_and_model_version_on_the_device(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        Guid clip = Guid.NewGuid();
        Assert.All(WriteAll(store,
            Detection("dev-k", 1, 1),
            Write("dev-k", MessageKind.Heartbeat, WireJson.Serialize(Wire.Heartbeat("dev-k", 1)), 2, null),
            Write("dev-k", MessageKind.DriftSketch, WireJson.Serialize(Wire.Sketch("dev-k")), 3, Wire.ConfigHash),
            Write("dev-k", MessageKind.ModelStatus, WireJson.Serialize(Wire.ModelStatus("dev-k")), 4, null),
            Write("dev-k", MessageKind.ClipFeatures, Wire.FeatureClip(clip), 5, Wire.ConfigHash),
            Write("dev-k", MessageKind.ClipAudio, Wire.AudioClip(Guid.NewGuid()), 6, Wire.ConfigHash),
            Write("dev-k", MessageKind.Status, WireJson.Serialize(new DeviceStatus { DeviceId = "dev-k", State = DeviceState.Online }), null, null)),
            o => Assert.Equal(IngestOutcome.Stored, o));
        StoreCounts c = store.Count();
        Assert.Equal((6, 1, 1, 2, 1, 1, 0, 1), (c.Messages, c.Detections, c.Heartbeats, c.Clips, c.Sketches, c.ModelStatuses, c.Quarantined, c.Devices));
        DeviceRecord d = Assert.Single(store.ReadDevices());
        Assert.Equal(("dev-k", "kws-1.1.0", "Online", false), (d.DeviceId, d.ModelVersion, d.Status, d.HasCredential));
        Assert.NotNull(d.FirstSeenUtc);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_late_detection_of_the_old_model_does_not_move_the_device_back_to_it(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        // The swap's status (1.1.0) arrives before a detection the old model (1.0.0) made just before the swap.
        Assert.All(WriteAll(store,
            Write("dev-v", MessageKind.ModelStatus, WireJson.Serialize(Wire.ModelStatus("dev-v")), 1, null),
            Detection("dev-v", 2, 1)), o => Assert.Equal(IngestOutcome.Stored, o));
        Assert.Equal("kws-1.1.0", Assert.Single(store.ReadDevices()).ModelVersion);
        Assert.Equal(1, store.Count().Detections); // stored as the old model's detection all the same

        // A heartbeat reports what runs now (here: back on 1.0.0 after a rollback).
        Assert.Equal([IngestOutcome.Stored], WriteAll(store, Write("dev-v", MessageKind.Heartbeat, WireJson.Serialize(Wire.Heartbeat("dev-v", 1)), 3, null)));
        Assert.Equal("kws-1.0.0", Assert.Single(store.ReadDevices()).ModelVersion);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_batch_stores_what_its_messages_written_one_at_a_time_in_arrival_order_store(string provider)
    {
        // Received out of order, two copies of one key with different content, two detections of different models and no current
        // version: the rows must not depend on where the ingest writer cut its batches.
        DateTimeOffset t0 = Wire.Time0;
        static byte[] Made(int n, string model) => WireJson.Serialize(new DetectionReport
        {
            DeviceId = "dev-o",
            DeviceTimeUtc = Wire.Time0.AddSeconds(n),
            StreamOffsetMs = n * 1000L,
            Score = 0.9f,
            Keyword = "hey edge",
            ModelVersion = model,
            FeatureConfigHash = Wire.ConfigHash,
        });
        StoreWrite Heard(long seq, int n, string model, int receivedS) =>
            Write("dev-o", MessageKind.Detection, Made(n, model), seq, Wire.ConfigHash, receivedUtc: t0.AddSeconds(receivedS));
        StoreWrite[] writes = [Heard(7, 7, "kws-0.9.0", 20), Heard(3, 3, "kws-0.8.0", 10), Heard(7, 8, "kws-0.9.0", 30)];
        (IngestOutcome, RejectionKind)[] Outcomes(IngestResult[] r) => [.. r.Select(x => (x.Outcome, x.Rejection))];

        using IGatewayStore batched = GatewayStores.Open(Options(provider));
        var results = new IngestResult[writes.Length];
        batched.WriteBatch(writes, results);
        var oneByOne = new List<IngestResult>();
        using var singleDir = new TempDirectory();
        using (IGatewayStore single = GatewayStores.Open(postgres.StoreOptions(provider, singleDir)))
        {
            foreach (StoreWrite w in writes)
            {
                var r = new IngestResult[1];
                single.WriteBatch([w], r);
                oneByOne.Add(r[0]);
            }
            Assert.Equal(Assert.Single(single.ReadDevices()), Assert.Single(batched.ReadDevices()));
        }

        Assert.Equal([(IngestOutcome.Stored, RejectionKind.None), (IngestOutcome.Stored, RejectionKind.None), (IngestOutcome.Quarantined, RejectionKind.SequenceConflict)],
            Outcomes(results));
        Assert.Equal(Outcomes(results), Outcomes([.. oneByOne]));
        DeviceRecord d = Assert.Single(batched.ReadDevices());
        Assert.Equal((t0.AddSeconds(20), t0.AddSeconds(20), "kws-0.9.0"), (d.FirstSeenUtc, d.LastSeenUtc, d.ModelVersion));
        Assert.Equal(Made(8, "kws-0.9.0"), Assert.Single(batched.ReadQuarantine(0, 10)).Payload);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Quarantines_fuzzed_messages_with_their_raw_bytes_even_with_NUL_and_broken_text(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(Options(provider));
        var corpus = new FuzzCorpus(seed: 7, "dev-f", maxMessageBytes: 1 << 20);
        var writes = new List<StoreWrite>();
        for (int i = 0; i < 400; i++)
        {
            FuzzMessage f = corpus.Next(i);
            var envelope = new IngestEnvelope("dev-f", f.Topic, f.Payload, f.Properties.Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(),
                f.ContentType, DateTimeOffset.UtcNow);
            Assert.False(IngestValidator.TryValidate(envelope, 1 << 20, out _, out RejectionKind k, out string why), $"fuzz case {i} ({f.Category}) passed validation");
            writes.Add(new StoreWrite(envelope, null, k, why));
        }
        // Text PostgreSQL cannot hold as is: NUL and a lone surrogate in the topic, reason and properties.
        var nasty = new IngestEnvelope("dev-f", "edgekws/v1/dev-f/\0x\uD800", [0, 1, 2, 0xFF],
            [new("ekws-seq", "1\0"), new("ekws-schema", "\uDC00")], "application/\0json", DateTimeOffset.UtcNow);
        writes.Add(new StoreWrite(nasty, null, RejectionKind.InvalidTopic, "reason with \0 and \uD800"));

        var results = new IngestResult[writes.Count];
        store.WriteBatch(writes.ToArray(), results);
        Assert.All(results, r => Assert.Equal(IngestOutcome.Quarantined, r.Outcome));
        IReadOnlyList<QuarantineRecord> rows = store.ReadQuarantine(0, 1000);
        Assert.Equal(writes.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            byte[] sent = writes[i].Envelope.Payload;
            // Arrival order, bytes intact (an oversized payload keeps its first QuarantineMaxPayloadBytes, and its full length).
            Assert.Equal(sent.AsSpan(0, Math.Min(sent.Length, new StoreOptions().QuarantineMaxPayloadBytes)).ToArray(), rows[i].Payload);
            Assert.Equal(sent.Length, rows[i].PayloadBytes);
            Assert.Equal(writes[i].Rejection, rows[i].Rejection);
        }
        Assert.StartsWith("edgekws/v1/dev-f/", rows[^1].Topic, StringComparison.Ordinal);
        Assert.Equal(0, store.Count().Messages);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Keeps_credentials_and_batches_across_reopen_and_refuses_a_newer_schema(string provider)
    {
        StoreOptions options = Options(provider);
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            store.SetDeviceCredential("dev-r", PasswordHash.Create("device-password-r", iterations: 1_000));
            WriteAll(store, Detection("dev-r", 1, 1), Detection("dev-r", 2, 2));
        }
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            Assert.Equal([1L, 2L], store.ReadSequences("dev-r"));
            Assert.True(store.TryGetDeviceCredential("dev-r", out PasswordHash? credential));
            Assert.True(credential!.Verify(Encoding.UTF8.GetBytes("device-password-r")));
            Assert.False(store.TryGetDeviceCredential("dev-unknown", out _));
            Assert.True(Assert.Single(store.ReadDevices()).HasCredential);
        }
        postgres.RawSql(options, provider == "sqlite" ? "PRAGMA user_version = 99" : "UPDATE schema_info SET version = 99");
        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => GatewayStores.Open(options));
        Assert.Contains($"has schema 99; this build knows up to {(provider == "sqlite" ? SqliteGatewayStore.SchemaVersion : PostgresGatewayStore.SchemaVersion)}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stores_each_message_once_when_two_instances_write_the_same_keys_concurrently()
    {
        // Two gateway instances share one PostgreSQL database; a redelivery can reach the second while the first still
        // holds the key in an open transaction. Overlapping batches over the same devices must not deadlock or double.
        StoreOptions options = Options("postgres");
        using IGatewayStore a = GatewayStores.Open(options);
        using IGatewayStore b = GatewayStores.Open(options);
        string[] devices = ["dev-c1", "dev-c2", "dev-c3", "dev-c4"];
        StoreWrite[] Batch(int round, bool reverse)
        {
            var list = new List<StoreWrite>();
            foreach (string d in reverse ? devices.Reverse() : devices)
            {
                for (int k = 0; k < 5; k++)
                {
                    list.Add(Detection(d, round * 5 + k + 1, round * 5 + k + 1));
                }
            }
            return list.ToArray();
        }
        var outcomes = new System.Collections.Concurrent.ConcurrentBag<IngestOutcome>();
        Parallel.For(0, 2, i =>
        {
            IGatewayStore store = i == 0 ? a : b;
            for (int round = 0; round < 40; round++)
            {
                StoreWrite[] w = Batch(round, reverse: i == 1);
                var r = new IngestResult[w.Length];
                store.WriteBatch(w, r);
                foreach (IngestResult x in r)
                {
                    outcomes.Add(x.Outcome);
                }
            }
        });
        Assert.Equal(devices.Length * 200, outcomes.Count(o => o == IngestOutcome.Stored));
        Assert.Equal(devices.Length * 200, outcomes.Count(o => o == IngestOutcome.Duplicate));
        Assert.All(devices, d => Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), a.ReadSequences(d)));
        Assert.Equal(0, a.Count().Quarantined);
    }
}

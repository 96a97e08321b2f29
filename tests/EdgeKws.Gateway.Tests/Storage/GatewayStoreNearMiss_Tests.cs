using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The near-miss members of <see cref="IGatewayStore"/> (insert through the ingest batch, the worker's label, a person's decision,
/// reading for a field dataset, erasure) on both implementations: a SQLite file and a real PostgreSQL server (<see cref="PostgresFixture"/>).</summary>
[Collection("postgres")]
public sealed class GatewayStoreNearMiss_Tests(PostgresFixture postgres) : IDisposable
{
    private const string Dev = "dev-nm";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    internal static StoreWrite Valid(string device, MessageKind kind, byte[] payload, long seq, DateTimeOffset receivedUtc, string? configHash = null)
    {
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, kind), payload,
            Wire.Properties(seq, kind, configHash ?? Wire.ConfigHash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, receivedUtc);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    internal static NearMissReport NearMiss(string device, int n, Guid? clip, float score = 0.6f) => new()
    {
        DeviceId = device,
        DeviceTimeUtc = Wire.Time0.AddSeconds(n),
        StreamOffsetMs = n * 1000L,
        Score = score,
        Threshold = 0.8f,
        BandFloor = 0.4f,
        ModelVersion = "kws-1.0.0",
        FeatureConfigHash = Wire.ConfigHash,
        ClipId = clip,
    };

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Stores_labels_decides_and_reads_near_misses_for_export_and_erases_them_with_the_device(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        Guid missed = Guid.NewGuid(), doubtful = Guid.NewGuid(), featuresOnly = Guid.NewGuid(), late = Guid.NewGuid(), trigger = Guid.NewGuid(), pending = Guid.NewGuid();
        StoreWrite[] writes =
        [
            Valid(Dev, MessageKind.NearMiss, WireJson.Serialize(NearMiss(Dev, 1, missed, 0.7f)), 1, Now),
            Valid(Dev, MessageKind.ClipAudio, Wire.AudioClip(missed, 32_000), 2, Now),
            Valid(Dev, MessageKind.NearMiss, WireJson.Serialize(NearMiss(Dev, 3, doubtful, 0.5f)), 3, Now),
            Valid(Dev, MessageKind.ClipAudio, Wire.AudioClip(doubtful, 32_000), 4, Now),
            Valid(Dev, MessageKind.NearMiss, WireJson.Serialize(NearMiss(Dev, 5, featuresOnly, 0.45f)), 5, Now),
            Valid(Dev, MessageKind.ClipFeatures, Wire.FeatureClip(featuresOnly, 198), 6, Now),
            // A near miss whose clip has not arrived, one without a clip at all, and one whose clip waits for its label.
            Valid(Dev, MessageKind.NearMiss, WireJson.Serialize(NearMiss(Dev, 7, late)), 7, Now),
            Valid(Dev, MessageKind.NearMiss, WireJson.Serialize(NearMiss(Dev, 8, null)), 8, Now),
            Valid(Dev, MessageKind.Detection, WireJson.Serialize(Wire.Detection(Dev, 9).WithClip(trigger)), 9, Now),
            Valid(Dev, MessageKind.ClipAudio, Wire.AudioClip(trigger, 32_000), 10, Now),
            Valid(Dev, MessageKind.NearMiss, WireJson.Serialize(NearMiss(Dev, 11, pending)), 11, Now),
            Valid(Dev, MessageKind.ClipAudio, Wire.AudioClip(pending, 32_000), 12, Now),
        ];
        var results = new IngestResult[writes.Length];
        store.WriteBatch(writes, results);
        Assert.All(results, r => Assert.Equal(IngestOutcome.Stored, r.Outcome));
        // Near misses are never detections.
        Assert.Equal(1, store.Count().Detections);

        IReadOnlyList<NearMissRecord> all = store.ReadNearMisses(Dev, 10);
        Assert.Equal([11L, 8L, 7L, 5L, 3L, 1L], all.Select(n => n.Sequence)); // newest device time first
        NearMissRecord first = all.Single(n => n.Sequence == 1);
        Assert.Equal((Wire.Time0.AddSeconds(1), 1000L, 0.7, 0.8, 0.4, "kws-1.0.0", missed.ToString("D"), true),
            (first.DeviceTimeUtc, first.StreamOffsetMs, Math.Round(first.Score, 6), Math.Round(first.Threshold, 6), Math.Round(first.BandFloor, 6), first.ModelVersion,
                first.ClipId, first.HasAudio));
        Assert.Null(first.Label);
        Assert.False(all.Single(n => n.Sequence == 5).HasAudio);
        Assert.Null(all.Single(n => n.Sequence == 8).ClipId);

        // Work: clips with audio at once, the feature-only clip after its grace; never a clip that has not arrived or a near miss without one.
        Assert.Equal([1L, 3L, 11L], store.ReadUnlabelledNearMissClips(10, Now.AddMinutes(-2)).Select(w => w.Sequence));
        IReadOnlyList<TriggerClipWork> work = store.ReadUnlabelledNearMissClips(10, Now.AddMilliseconds(1));
        Assert.Equal([1L, 3L, 5L, 11L], work.Select(w => w.Sequence));
        Assert.All(work, w => Assert.True(w.NearMiss));
        Assert.NotNull(work[0].AudioFrame);
        Assert.Null(work[2].AudioFrame);
        Assert.Equal(0.7, work[0].DeviceScore, 6);

        // The worker: phrase there (a missed keyword), to review, not there; a near miss that is not stored is refused by name.
        var aligner = new LabelProvenance(LabelProvenanceKinds.Aligner, "pocketsphinx test; trigger-verifier 2", 0.93, null);
        Assert.Null(store.WriteNearMissLabel(Dev, 1, DetectionLabelKind.TrueAccept, aligner, null, DetectionLabelKind.TrueAccept, Now));
        Assert.Null(store.WriteNearMissLabel(Dev, 3, DetectionLabelKind.Unknown, aligner with { Confidence = 0.5 }, "confidence 0.50 between the bounds",
            DetectionLabelKind.TrueAccept, Now));
        Assert.Null(store.WriteNearMissLabel(Dev, 5, DetectionLabelKind.FalseAccept, aligner with { Confidence = null }, null, DetectionLabelKind.FalseAccept, Now));
        Assert.Null(store.WriteNearMissLabel(Dev, 11, DetectionLabelKind.Unknown, aligner, "no wake phrase configured", DetectionLabelKind.Unknown, Now));
        Assert.Contains("is not stored", store.WriteNearMissLabel(Dev, 99, DetectionLabelKind.TrueAccept, aligner, null, DetectionLabelKind.TrueAccept, Now),
            StringComparison.Ordinal);
        Assert.NotNull(store.WriteNearMissLabel(Dev, 1, DetectionLabelKind.TrueAccept, aligner with { Kind = "guess" }, null, DetectionLabelKind.TrueAccept, Now));
        Assert.Empty(store.ReadUnlabelledNearMissClips(10, Now.AddMilliseconds(1)));
        NearMissRecord queued = store.ReadNearMisses(Dev, 10).Single(n => n.Sequence == 3);
        Assert.Equal((DetectionLabelKind.Unknown, DetectionLabelKind.TrueAccept, "confidence 0.50 between the bounds"), (queued.Label, queued.Candidate, queued.ReviewReason));

        // A person decides only what waits for review, once.
        Assert.Contains("not waiting for review (its label is TrueAccept)", store.DecideNearMiss(Dev, 1, DetectionLabelKind.FalseAccept, "alice", Now),
            StringComparison.Ordinal);
        Assert.Contains("not waiting for review (its label is no label yet)", store.DecideNearMiss(Dev, 7, DetectionLabelKind.TrueAccept, "alice", Now),
            StringComparison.Ordinal);
        Assert.Contains("is not stored", store.DecideNearMiss(Dev, 99, DetectionLabelKind.TrueAccept, "alice", Now), StringComparison.Ordinal);
        Assert.NotNull(store.DecideNearMiss(Dev, 3, DetectionLabelKind.Unknown, "alice", Now));
        Assert.NotNull(store.DecideNearMiss(Dev, 3, DetectionLabelKind.TrueAccept, "", Now));
        Assert.Null(store.DecideNearMiss(Dev, 3, DetectionLabelKind.TrueAccept, "alice", Now.AddSeconds(5)));
        Assert.NotNull(store.DecideNearMiss(Dev, 3, DetectionLabelKind.FalseAccept, "bob", Now.AddSeconds(6)));
        NearMissRecord decided = store.ReadNearMisses(Dev, 10).Single(n => n.Sequence == 3);
        Assert.Equal((DetectionLabelKind.TrueAccept, (DetectionLabelKind?)null, Now.AddSeconds(5)), (decided.Label, decided.Candidate, decided.LabeledUtc));
        Assert.Equal(new LabelProvenance(LabelProvenanceKinds.Review, LabelProvenanceKinds.Review, null, "alice"), decided.Provenance);
        Assert.Equal(new LabelProvenance(LabelProvenanceKinds.Aligner, aligner.Tool, 0.93, null), store.ReadNearMisses(Dev, 10).Single(n => n.Sequence == 1).Provenance);

        // Read for export: decided triggers and near misses with a stored clip, in (device, sequence) order; never the one waiting for review (11).
        Assert.Equal([1L, 3L, 5L], store.ReadFieldClips(string.Empty, long.MinValue, 10).Select(c => c.Sequence)); // the trigger has no label yet
        store.WriteLabels([new DetectionLabel(Dev, 9, DetectionLabelKind.FalseAccept, "human:carol", Now)]);
        IReadOnlyList<FieldClip> clips = store.ReadFieldClips(string.Empty, long.MinValue, 10);
        Assert.Equal([(FieldClipKind.NearMiss, 1L), (FieldClipKind.NearMiss, 3L), (FieldClipKind.NearMiss, 5L), (FieldClipKind.Trigger, 9L)],
            clips.Select(c => (c.Kind, c.Sequence)));
        Assert.Equal([DetectionLabelKind.TrueAccept, DetectionLabelKind.TrueAccept, DetectionLabelKind.FalseAccept, DetectionLabelKind.FalseAccept],
            clips.Select(c => c.Label));
        Assert.Equal([true, true, false, true], clips.Select(c => c.FrameIsAudio));
        Assert.True(ClipAudio.TryReadHeader(clips[0].Frame, out ClipHeader h0, out _));
        Assert.Equal((missed, 32_000), (h0.ClipId, h0.FrameCount));
        Assert.True(ClipFeatures.TryReadHeader(clips[2].Frame, out ClipHeader h2, out _));
        Assert.Equal((featuresOnly, 198), (h2.ClipId, h2.FrameCount));
        FieldClip nm = clips[0];
        Assert.Equal((Dev, Wire.Time0.AddSeconds(1), Now, 1000L, 0.7, "kws-1.0.0", missed.ToString("D"), "aligner:" + aligner.Tool),
            (nm.DeviceId, nm.DeviceTimeUtc, nm.ReceivedUtc, nm.StreamOffsetMs, Math.Round(nm.DeviceScore, 6), nm.ModelVersion, nm.ClipId, nm.LabelSource));
        Assert.Equal(aligner, nm.Provenance);
        Assert.Equal(("review:alice", "alice"), (clips[1].LabelSource, clips[1].Provenance!.Reviewer));
        FieldClip tr = clips[3];
        Assert.Equal((Wire.Time0.AddSeconds(9), 0.9, "human:carol", (LabelProvenance?)null), (tr.DeviceTimeUtc, Math.Round(tr.DeviceScore, 6), tr.LabelSource, tr.Provenance));
        // Paging by (device, sequence).
        Assert.Equal([1L, 3L], store.ReadFieldClips(string.Empty, long.MinValue, 2).Select(c => c.Sequence));
        Assert.Equal([5L, 9L], store.ReadFieldClips(Dev, 3, 2).Select(c => c.Sequence));
        Assert.Empty(store.ReadFieldClips(Dev, 9, 2));

        store.EraseDevice(Dev, keepCredential: false, Now);
        Assert.Empty(store.ReadNearMisses(Dev, 10));
        Assert.Empty(store.ReadFieldClips(string.Empty, long.MinValue, 10));
    }
}

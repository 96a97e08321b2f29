using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Monitoring;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The labeling members of <see cref="IGatewayStore"/> (schema step 4) on both implementations: a SQLite file and a real
/// PostgreSQL server (<see cref="PostgresFixture"/>).</summary>
[Collection("postgres")]
public sealed class GatewayStoreLabeling_Tests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static StoreWrite Valid(string device, MessageKind kind, byte[] payload, long seq, string? hash)
    {
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, kind), payload,
            Wire.Properties(seq, kind, hash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, Now);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Queues_decides_and_audits_labels_with_their_provenance_and_erases_them_with_the_device(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        Guid audio = Guid.NewGuid(), features = Guid.NewGuid(), late = Guid.NewGuid();
        StoreWrite[] writes =
        [
            Valid("dev-l", MessageKind.ClipAudio, Wire.AudioClip(audio, 1600), 1, Wire.ConfigHash),
            Valid("dev-l", MessageKind.Detection, WireJson.Serialize(Wire.Detection("dev-l", 2).WithClip(audio)), 2, Wire.ConfigHash),
            Valid("dev-l", MessageKind.ClipFeatures, Wire.FeatureClip(features, 8), 3, Wire.ConfigHash),
            Valid("dev-l", MessageKind.Detection, WireJson.Serialize(Wire.Detection("dev-l", 4).WithClip(features)), 4, Wire.ConfigHash),
            // A detection whose clip has not arrived is not work yet.
            Valid("dev-l", MessageKind.Detection, WireJson.Serialize(Wire.Detection("dev-l", 5).WithClip(late)), 5, Wire.ConfigHash),
        ];
        store.WriteBatch(writes, new IngestResult[writes.Length]);

        // Within the grace, a feature-only clip waits for its audio.
        Assert.Equal([2L], store.ReadUnlabelledTriggerClips(10, Now.AddMinutes(-2)).Select(w => w.Sequence));
        IReadOnlyList<TriggerClipWork> work = store.ReadUnlabelledTriggerClips(10, Now.AddMilliseconds(1));
        Assert.Equal([2L, 4L], work.Select(w => w.Sequence));
        Assert.NotNull(work[0].AudioFrame);
        Assert.Null(work[1].AudioFrame);

        var aligner = new LabelProvenance(LabelProvenanceKinds.Aligner, "pocketsphinx test; trigger-verifier 2", 0.91, null);
        Assert.Null(store.WriteAutomaticLabel(new DetectionLabel("dev-l", 2, DetectionLabelKind.TrueAccept, "aligner:pocketsphinx test", Now), aligner, null, DetectionLabelKind.TrueAccept, audio.ToString("D")));
        Assert.Null(store.WriteAutomaticLabel(new DetectionLabel("dev-l", 4, DetectionLabelKind.Unknown, "aligner:not aligned", Now), aligner with { Confidence = null },
            "feature-only clip", DetectionLabelKind.Unknown, features.ToString("D")));
        Assert.NotNull(store.WriteAutomaticLabel(new DetectionLabel("dev-l", 99, DetectionLabelKind.TrueAccept, "aligner:x", Now), aligner, null, DetectionLabelKind.TrueAccept, null));
        Assert.NotNull(store.WriteAutomaticLabel(new DetectionLabel("dev-l", 2, DetectionLabelKind.TrueAccept, "aligner:x", Now), aligner with { Confidence = 1.5 }, null, DetectionLabelKind.TrueAccept, null));
        Assert.Empty(store.ReadUnlabelledTriggerClips(10, Now.AddMilliseconds(1)));
        Assert.Equal(audio.ToString("D"), store.ReadClipAudio("dev-l", audio.ToString("D")) is { } f && ClipAudio.TryReadHeader(f, out ClipHeader h, out _) ? h.ClipId.ToString("D") : null);
        Assert.Null(store.ReadClipAudio("dev-l", features.ToString("D")));

        ReviewQueueEntry queued = Assert.Single(store.ReadReviewQueue(10));
        Assert.Equal((4L, "feature-only clip", false), (queued.Sequence, queued.Reason, queued.HasAudio));
        Assert.Equal(1, store.CountReviewQueue());
        // A label posted as Unknown through the labels API joins the queue with its own reason.
        store.WriteLabels([new DetectionLabel("dev-l", 5, DetectionLabelKind.Unknown, "human:carol", Now.AddSeconds(1))]);
        Assert.Equal(2, store.ReadReviewQueue(10).Count);
        Assert.Equal("labelled Unknown through the labels API", store.ReadReviewQueue(10)[1].Reason);

        Assert.Contains("not in the review queue", store.DecideReview("dev-l", 2, DetectionLabelKind.FalseAccept, "alice", Now), StringComparison.Ordinal);
        Assert.NotNull(store.DecideReview("dev-l", 4, DetectionLabelKind.Unknown, "alice", Now));
        Assert.Null(store.DecideReview("dev-l", 4, DetectionLabelKind.FalseAccept, "alice", Now.AddSeconds(2)));
        Assert.Equal(1, store.CountReviewQueue());

        IReadOnlyList<LabelWithProvenance> labels = store.ReadLabelsWithProvenance("dev-l", 10);
        LabelWithProvenance reviewed = labels.Single(l => l.Label.Sequence == 4);
        Assert.Equal(("review:alice", "review", "alice"), (reviewed.Label.Source, reviewed.Provenance!.Kind, reviewed.Provenance.Reviewer));
        LabelWithProvenance auto = labels.Single(l => l.Label.Sequence == 2);
        Assert.Equal((0.91, (string?)null), (auto.Provenance!.Confidence, auto.Provenance.Reviewer));
        Assert.Null(labels.Single(l => l.Label.Sequence == 5).Provenance); // posted without provenance

        // Audit: bob re-reviews both decided labels and agrees with the aligner, not with alice.
        Assert.Equal([2L, 4L], store.SampleForReReview("bob", 10, 3).Select(l => l.Label.Sequence).Order());
        Assert.Equal([2L], store.SampleForReReview("alice", 10, 3).Select(l => l.Label.Sequence));
        Assert.Null(store.AddReReview("dev-l", 2, DetectionLabelKind.TrueAccept, "bob", Now));
        Assert.Null(store.AddReReview("dev-l", 4, DetectionLabelKind.TrueAccept, "bob", Now));
        Assert.NotNull(store.AddReReview("dev-l", 4, DetectionLabelKind.TrueAccept, "alice", Now));
        Assert.NotNull(store.AddReReview("dev-l", 5, DetectionLabelKind.TrueAccept, "bob", Now));
        Assert.Empty(store.SampleForReReview("bob", 10, 3));
        AgreementCounts a = store.ReadAgreement();
        Assert.Equal((2L, 1L, 0.5), (a.Compared, a.Agreed, a.Rate));
        Assert.Equal((1L, 1L), a.ByFirstKind["aligner"]);
        Assert.Equal((1L, 0L), a.ByFirstKind["review"]);

        store.EraseDevice("dev-l", keepCredential: false, Now);
        Assert.Empty(store.ReadLabelsWithProvenance("dev-l", 10));
        Assert.Empty(store.ReadReviewQueue(10));
        Assert.Equal(0, store.ReadAgreement().Compared);
    }
}

using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Monitoring;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The governance and skew members of <see cref="IGatewayStore"/> (schema version 3) on both implementations: a SQLite
/// file and a real PostgreSQL server (<see cref="PostgresFixture"/>).</summary>
[Collection("postgres")]
public sealed class GatewayStoreGovernance_Tests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private IGatewayStore Open(string provider) => GatewayStores.Open(postgres.StoreOptions(provider, _dir));

    // A message that passed the real validator, received at a chosen gateway time.
    private static StoreWrite Valid(string device, MessageKind kind, byte[] payload, long seq, string? hash, DateTimeOffset receivedUtc)
    {
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, kind), payload,
            Wire.Properties(seq, kind, hash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(), null, receivedUtc);
        Assert.True(IngestValidator.TryValidate(envelope, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    private static StoreWrite AudioClip(string device, long seq, Guid clip, DateTimeOffset receivedUtc) =>
        Valid(device, MessageKind.ClipAudio, Wire.AudioClip(clip, 1600), seq, Wire.ConfigHash, receivedUtc);

    private static StoreWrite FeatureClip(string device, long seq, Guid clip, DateTimeOffset receivedUtc) =>
        Valid(device, MessageKind.ClipFeatures, Wire.FeatureClip(clip, 8), seq, Wire.ConfigHash, receivedUtc);

    private static StoreWrite Detection(string device, long seq, Guid clip) =>
        Valid(device, MessageKind.Detection, WireJson.Serialize(Wire.Detection(device, (int)seq).WithClip(clip)), seq, Wire.ConfigHash, Now);

    private static void Write(IGatewayStore store, params StoreWrite[] writes)
    {
        var results = new IngestResult[writes.Length];
        store.WriteBatch(writes, results);
        Assert.All(results, r => Assert.Equal(IngestOutcome.Stored, r.Outcome));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Retention_deletes_only_raw_audio_received_before_the_cutoff(string provider)
    {
        using IGatewayStore store = Open(provider);
        Guid old = Guid.NewGuid(), recent = Guid.NewGuid();
        Write(store, AudioClip("dev-r", 1, old, Now.AddDays(-31)), FeatureClip("dev-r", 2, old, Now.AddDays(-31)), AudioClip("dev-r", 3, recent, Now.AddDays(-29)));

        Assert.Equal(1, store.DeleteRawAudioReceivedBefore(Now.AddDays(-30)));
        Assert.Equal(0, store.DeleteRawAudioReceivedBefore(Now.AddDays(-30)));

        Assert.Equal(2, store.Count().Clips); // the old features and the recent audio
        // The deleted audio no longer pairs with its features; the recent audio has no features.
        Assert.Empty(store.ReadUncheckedClipPairs(10));
        // The ledger keeps the sequence: a redelivery of the deleted clip is a duplicate, not a new copy.
        var results = new IngestResult[1];
        store.WriteBatch([AudioClip("dev-r", 1, old, Now)], results);
        Assert.Equal(IngestOutcome.Duplicate, results[0].Outcome);
        Assert.Equal(2, store.Count().Clips);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Erasing_a_device_removes_its_data_marks_models_trained_on_it_and_revokes_its_credential_once(string provider)
    {
        using IGatewayStore store = Open(provider);
        Guid a1 = Guid.NewGuid(), b1 = Guid.NewGuid();
        store.SetDeviceCredential("dev-a", PasswordHash.Create("password-of-dev-a", 1000));
        store.SetDeviceCredential("dev-b", PasswordHash.Create("password-of-dev-b", 1000));
        Write(store, Detection("dev-a", 1, a1), AudioClip("dev-a", 2, a1, Now), FeatureClip("dev-a", 3, a1, Now),
            Detection("dev-b", 1, b1), FeatureClip("dev-b", 2, b1, Now));
        Assert.Equal([null, null], store.WriteLabels([
            new DetectionLabel("dev-a", 1, DetectionLabelKind.FalseAccept, "human:x", Now),
            new DetectionLabel("dev-b", 1, DetectionLabelKind.TrueAccept, "human:x", Now)]));
        Assert.Equal(2, store.AddDatasetMembers("ds-1", [new DatasetMember("dev-a", a1.ToString("D")), new DatasetMember("dev-b", b1.ToString("D"))]));
        Assert.Equal(0, store.AddDatasetMembers("ds-1", [new DatasetMember("dev-a", a1.ToString("D"))])); // idempotent
        Assert.Equal(1, store.AddDatasetMembers("ds-2", [new DatasetMember("dev-b", b1.ToString("D"))]));
        store.RecordModelDataset("kws-2.0.0", "ds-1");
        store.RecordModelDataset("kws-2.0.0", "ds-1");
        store.RecordModelDataset("kws-2.1.0", "ds-2");
        store.WriteSkewResult(new SkewResult("dev-a", a1.ToString("D"), Now, SkewStatus.Compared, 8, 0, 0, 0, "same"));

        ErasureCounts first = store.EraseDevice("dev-a", keepCredential: false, Now);

        Assert.Equal(new ErasureCounts(AudioClips: 1, FeatureClips: 1, DetectionClipRefs: 1, Labels: 1, DatasetMemberships: 1, SkewResults: 1,
            ModelsTainted: 1, CredentialRevoked: true), first);
        ModelTaint taint = Assert.Single(store.ReadModelTaints());
        Assert.Equal(("kws-2.0.0", "dev-a"), (taint.ModelVersion, taint.ErasedDeviceId));
        Assert.Equal("trained on erased device dev-a (dataset ds-1)", taint.Reason);
        Assert.False(store.TryGetDeviceCredential("dev-a", out _));
        Assert.True(store.TryGetDeviceCredential("dev-b", out _));
        Assert.Equal([new DatasetMember("dev-b", b1.ToString("D"))], store.ReadDatasetMembers("ds-1"));
        Assert.Empty(store.ReadSkewResults("dev-a", 10));
        // The detection stays (it counts in FA/hour) without its clip; the other device keeps everything.
        IReadOnlyList<DetectionRecord> detections = store.ReadDetections(new DetectionQuery(Wire.Time0.AddDays(-1), Wire.Time0.AddDays(1)));
        Assert.Null(Assert.Single(detections, d => d.DeviceId == "dev-a").ClipId);
        Assert.Equal(b1.ToString("D"), Assert.Single(detections, d => d.DeviceId == "dev-b").ClipId);
        Assert.Equal(["dev-b"], store.ReadLabels(null, 10).Select(l => l.DeviceId));
        Assert.Equal(1, store.Count().Clips);

        // Again: nothing left to erase, nothing newly marked.
        Assert.Equal(default, store.EraseDevice("dev-a", keepCredential: false, Now));
        Assert.Single(store.ReadModelTaints());

        ErasureCounts kept = store.EraseDevice("dev-b", keepCredential: true, Now);
        Assert.Equal((1L, 1L, 2L, false), (kept.FeatureClips, kept.Labels, kept.ModelsTainted, kept.CredentialRevoked));
        Assert.True(store.TryGetDeviceCredential("dev-b", out _));
        Assert.Equal(3, store.ReadModelTaints().Count);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Pairs_audio_and_features_of_the_same_clip_until_a_skew_result_is_stored(string provider)
    {
        using IGatewayStore store = Open(provider);
        Guid both = Guid.NewGuid(), audioOnly = Guid.NewGuid();
        short[] pcm = SkewClips.Audio(4000);
        byte[] audio = SkewClips.AudioFrame(both, pcm), features = SkewClips.FeaturesFrame(both, SkewClips.Features(pcm));
        string hash = MfccHash;
        Write(store, Valid("dev-s", MessageKind.ClipAudio, audio, 1, hash, Now), Valid("dev-s", MessageKind.ClipFeatures, features, 2, hash, Now),
            AudioClip("dev-s", 3, audioOnly, Now), FeatureClip("dev-t", 1, both, Now));

        ClipPair pair = Assert.Single(store.ReadUncheckedClipPairs(10));
        Assert.Equal(("dev-s", both.ToString("D")), (pair.DeviceId, pair.ClipId));
        Assert.Equal(audio, pair.AudioFrame);
        Assert.Equal(features, pair.FeaturesFrame);

        var result = new SkewResult("dev-s", both.ToString("D"), Now, SkewStatus.Compared, 23, 0.5, 0.01, 4, "differs");
        store.WriteSkewResult(result);
        store.WriteSkewResult(result with { MaxAbsDifference = 0.25 }); // replaces

        Assert.Empty(store.ReadUncheckedClipPairs(10));
        Assert.Equal([result with { MaxAbsDifference = 0.25 }], store.ReadSkewResults(null, 10));
        Assert.Empty(store.ReadSkewResults("dev-t", 10));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Refuses_a_blank_dataset_id_by_name(string provider)
    {
        using IGatewayStore store = Open(provider);
        var ex = Assert.Throws<ArgumentException>(() => store.AddDatasetMembers(" ", [new DatasetMember("dev-a", "c")]));
        Assert.Contains("dataset id", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => store.AddDatasetMembers("ds", [new DatasetMember("dev-a", "")]));
        Assert.Contains("dataset member 0 clip id", ex.Message, StringComparison.Ordinal);
    }

    private static string MfccHash => EdgeKws.Shared.Features.MfccConfig.Default.FeatureConfigHash;
}

internal static class DetectionReportTestExtensions
{
    public static DetectionReport WithClip(this DetectionReport d, Guid clipId) => new()
    {
        DeviceId = d.DeviceId,
        DeviceTimeUtc = d.DeviceTimeUtc,
        StreamOffsetMs = d.StreamOffsetMs,
        Score = d.Score,
        Keyword = d.Keyword,
        ModelVersion = d.ModelVersion,
        FeatureConfigHash = d.FeatureConfigHash,
        ClipId = clipId,
    };
}

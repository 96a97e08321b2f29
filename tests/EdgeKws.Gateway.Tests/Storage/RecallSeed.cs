using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>Labelled triggers and near misses of one device, with their clips, written through the store's ingest batch and label paths
/// (the same rows the device, the labeling worker and reviewers produce). Shared by the store, API and loop page tests of the FRR series.</summary>
internal sealed class RecallSeed(string device)
{
    private static readonly DateTimeOffset Received = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    private readonly string _device = device;
    private readonly List<StoreWrite> _writes = [];
    private readonly List<DetectionLabel> _labels = [];
    private readonly List<(long Seq, DetectionLabelKind Label)> _nearLabels = [];
    private long _seq;

    /// <summary>A detection of <paramref name="model"/> at device time <paramref name="at"/>, with its audio clip unless
    /// <paramref name="clip"/> is false, labelled <paramref name="label"/> (null: not labelled).</summary>
    public void Trigger(string model, DateTimeOffset at, DetectionLabelKind? label, bool clip = true)
    {
        long seq = ++_seq;
        Guid id = Guid.NewGuid();
        var d = new DetectionReport
        {
            DeviceId = _device,
            DeviceTimeUtc = at,
            StreamOffsetMs = seq * 1000,
            Score = 0.9f,
            Keyword = "hey edge",
            ModelVersion = model,
            FeatureConfigHash = Wire.ConfigHash,
            ClipId = clip ? id : null,
        };
        _writes.Add(GatewayStoreNearMiss_Tests.Valid(_device, MessageKind.Detection, WireJson.Serialize(d), seq, Received));
        if (clip) _writes.Add(GatewayStoreNearMiss_Tests.Valid(_device, MessageKind.ClipAudio, Wire.AudioClip(id, 1600), ++_seq, Received));
        if (label is { } l) _labels.Add(new DetectionLabel(_device, seq, l, "human:carol", Received));
    }

    /// <summary>A near miss, as <see cref="Trigger"/>; its label is the labeling worker's.</summary>
    public void NearMiss(string model, DateTimeOffset at, DetectionLabelKind? label, bool clip = true)
    {
        long seq = ++_seq;
        Guid id = Guid.NewGuid();
        NearMissReport n = GatewayStoreNearMiss_Tests.NearMiss(_device, 0, clip ? id : null);
        n = new NearMissReport
        {
            DeviceId = n.DeviceId,
            DeviceTimeUtc = at,
            StreamOffsetMs = seq * 1000,
            Score = n.Score,
            Threshold = n.Threshold,
            BandFloor = n.BandFloor,
            ModelVersion = model,
            FeatureConfigHash = n.FeatureConfigHash,
            ClipId = n.ClipId,
        };
        _writes.Add(GatewayStoreNearMiss_Tests.Valid(_device, MessageKind.NearMiss, WireJson.Serialize(n), seq, Received));
        if (clip) _writes.Add(GatewayStoreNearMiss_Tests.Valid(_device, MessageKind.ClipAudio, Wire.AudioClip(id, 1600), ++_seq, Received));
        if (label is { } l) _nearLabels.Add((seq, l));
    }

    /// <summary>Writes everything added so far (then labels it).</summary>
    public void Flush(IGatewayStore store)
    {
        var results = new IngestResult[_writes.Count];
        store.WriteBatch([.. _writes], results);
        Assert.All(results, r => Assert.True(r.Outcome == IngestOutcome.Stored, r.Reason));
        Assert.All(store.WriteLabels(_labels), Assert.Null);
        var aligner = new LabelProvenance(LabelProvenanceKinds.Aligner, "aligner test", 0.9, null);
        foreach ((long seq, DetectionLabelKind l) in _nearLabels)
        {
            Assert.Null(store.WriteNearMissLabel(_device, seq, l, aligner, l == DetectionLabelKind.Unknown ? "to review" : null, DetectionLabelKind.TrueAccept, Received));
        }
        _writes.Clear();
        _labels.Clear();
        _nearLabels.Clear();
    }
}

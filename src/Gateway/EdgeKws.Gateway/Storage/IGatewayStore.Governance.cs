namespace EdgeKws.Gateway.Storage;

/// <summary>One clip of a training dataset: which device it came from and its clip id.</summary>
/// <param name="DeviceId">The device that uploaded the clip.</param>
/// <param name="ClipId">The clip id (as <see cref="DetectionRecord.ClipId"/>).</param>
public sealed record DatasetMember(string DeviceId, string ClipId);

/// <summary>What <see cref="IGovernanceStore.EraseDevice"/> removed or changed (all zero on a repeated erase).</summary>
/// <param name="AudioClips">Raw audio clip rows deleted.</param>
/// <param name="FeatureClips">Feature clip rows deleted.</param>
/// <param name="DetectionClipRefs">Detections whose clip reference was cleared (the detection itself stays for FA/hour).</param>
/// <param name="Labels">Labels deleted.</param>
/// <param name="DatasetMemberships">Dataset membership rows deleted.</param>
/// <param name="SkewResults">Training-serving skew results deleted.</param>
/// <param name="ModelsTainted">Models newly marked as trained on this device's data.</param>
/// <param name="CredentialRevoked">Whether a credential was removed by this call.</param>
public readonly record struct ErasureCounts(long AudioClips, long FeatureClips, long DetectionClipRefs, long Labels, long DatasetMemberships,
    long SkewResults, long ModelsTainted, bool CredentialRevoked);

/// <summary>A mark on a model: it was trained on a dataset that held data of a device that was later erased.</summary>
/// <param name="ModelVersion">The model.</param>
/// <param name="ErasedDeviceId">The erased device.</param>
/// <param name="Reason">"trained on erased device X (dataset D)".</param>
/// <param name="TaintedUtc">When the erasure marked it.</param>
public sealed record ModelTaint(string ModelVersion, string ErasedDeviceId, string Reason, DateTimeOffset TaintedUtc);

/// <summary>A clip the gateway holds both as raw audio and as the device's features (same device and clip id): the
/// input of the training-serving skew check.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="ClipId">Clip id.</param>
/// <param name="AudioFrame">The stored <c>ClipAudio</c> frame.</param>
/// <param name="FeaturesFrame">The stored <c>ClipFeatures</c> frame.</param>
public sealed record ClipPair(string DeviceId, string ClipId, byte[] AudioFrame, byte[] FeaturesFrame);

/// <summary>Outcome class of one skew check.</summary>
public enum SkewStatus
{
    /// <summary>Compared: the differences are in the record.</summary>
    Compared = 1,

    /// <summary>The device's features come from a front end whose configuration hash the gateway does not know.</summary>
    UnknownFrontEnd = 2,

    /// <summary>The two clips cannot be compared (unreadable frame, other sample rate, other frame count); see the message.</summary>
    Incomparable = 3,
}

/// <summary>The gateway's recomputation of one clip's features compared with the device's.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="ClipId">Clip id.</param>
/// <param name="ComputedUtc">When the check ran.</param>
/// <param name="Status">Outcome class.</param>
/// <param name="Frames">Frames compared (0 unless <see cref="SkewStatus.Compared"/>).</param>
/// <param name="MaxAbsDifference">Largest |device - gateway| over all coefficients of all frames.</param>
/// <param name="MaxRelativeDifference">Largest per-frame max |device - gateway| / max |gateway| (a frame's error relative to its scale).</param>
/// <param name="WorstFrame">Frame with <see cref="MaxRelativeDifference"/>, or -1.</param>
/// <param name="Message">What was found, in words.</param>
public sealed record SkewResult(string DeviceId, string ClipId, DateTimeOffset ComputedUtc, SkewStatus Status, int Frames, double MaxAbsDifference,
    double MaxRelativeDifference, int WorstFrame, string Message);

/// <summary>The governance concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IGovernanceStore
{
}

/// <summary>Data governance (retention, erasure, dataset membership) and training-serving skew. Schema version 3. One
/// implementation over both databases (<see cref="GovernanceStore"/>).</summary>
public interface IGovernanceStore
{
    /// <summary>Deletes raw audio clips (not feature clips) received by the gateway before <paramref name="cutoffUtc"/>; returns how many.</summary>
    long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc);

    /// <summary>Records that <paramref name="members"/> belong to dataset <paramref name="datasetId"/> (dataset export calls this).
    /// Idempotent; returns the rows that were new.</summary>
    long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members);

    /// <summary>The members of a dataset, ordered by device and clip.</summary>
    IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId);

    /// <summary>Records that <paramref name="modelVersion"/> was trained on <paramref name="datasetId"/> (idempotent).</summary>
    void RecordModelDataset(string modelVersion, string datasetId);

    /// <summary>
    /// Erases a device's data in one transaction: its audio and feature clips, its detections' clip references, its labels, its
    /// dataset membership and its skew results; marks every model trained on a dataset that held its clips; removes its credential
    /// unless <paramref name="keepCredential"/>. Detections, heartbeats and sketches (counts, no content) stay, and so does the
    /// idempotency ledger, so a redelivered clip is still recognised as already stored and not stored again. Idempotent.
    /// </summary>
    ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc);

    /// <summary>Every model mark, ordered by model and device.</summary>
    IReadOnlyList<ModelTaint> ReadModelTaints();

    /// <summary>Clips held as both audio and features that have no skew result yet, oldest first.</summary>
    IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit);

    /// <summary>Stores (replaces) the skew result of a clip.</summary>
    void WriteSkewResult(SkewResult result);

    /// <summary>Skew results, newest first; optionally of one device.</summary>
    IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit);
}

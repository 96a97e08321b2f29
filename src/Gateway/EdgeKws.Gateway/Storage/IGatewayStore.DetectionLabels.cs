namespace EdgeKws.Gateway.Storage;

/// <summary>What a reviewer or an automatic labeller decided about one detection.</summary>
public enum DetectionLabelKind
{
    /// <summary>Not decided (needs review): counted in the review queue, not in FA/hour.</summary>
    Unknown = 0,

    /// <summary>The keyword was really spoken.</summary>
    TrueAccept = 1,

    /// <summary>The detector fired without the keyword: counts in FA/hour.</summary>
    FalseAccept = 2,
}

/// <summary>The label of one detection, keyed like the detection by (device, sequence). One label per detection: a new
/// label replaces the previous one (the latest decision wins; its source and time are kept).</summary>
/// <param name="DeviceId">The detection's device.</param>
/// <param name="Sequence">The detection's sequence number.</param>
/// <param name="Label">The decision.</param>
/// <param name="Source">Who decided ("human:alice", "auto:asr", ...), at most 128 characters.</param>
/// <param name="LabeledUtc">When the decision was made.</param>
public sealed record DetectionLabel(string DeviceId, long Sequence, DetectionLabelKind Label, string Source, DateTimeOffset LabeledUtc);

/// <summary>A stored detection with its label, if any.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">Device sequence number.</param>
/// <param name="DeviceTimeUtc">Device time of the detection.</param>
/// <param name="ReceivedUtc">When the gateway stored it.</param>
/// <param name="Score">Detector score.</param>
/// <param name="Keyword">Keyword, if reported.</param>
/// <param name="ModelVersion">Model that fired.</param>
/// <param name="ClipId">Clip sent with it, if any.</param>
/// <param name="Label">Its label, or null.</param>
public sealed record DetectionRecord(string DeviceId, long Sequence, DateTimeOffset DeviceTimeUtc, DateTimeOffset ReceivedUtc, double Score,
    string? Keyword, string ModelVersion, string? ClipId, DetectionLabel? Label);

/// <summary>Filter for <see cref="IGatewayStore.ReadDetections"/>: device time in [<see cref="FromUtc"/>, <see cref="ToUtc"/>).</summary>
/// <param name="FromUtc">Inclusive start.</param>
/// <param name="ToUtc">Exclusive end.</param>
/// <param name="DeviceId">Only this device, or all.</param>
/// <param name="ModelVersion">Only this model, or all.</param>
/// <param name="Limit">Most rows, newest first.</param>
public sealed record DetectionQuery(DateTimeOffset FromUtc, DateTimeOffset ToUtc, string? DeviceId = null, string? ModelVersion = null, int Limit = 1000);

/// <summary>The detection-label concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IDetectionLabelStore
{
}

/// <summary>Detections with their labels, labels written by any labeller, and the review queue's size (schema step 2: the <c>labels</c>
/// table). One implementation over both databases (<see cref="DetectionLabelStore"/>).</summary>
public interface IDetectionLabelStore
{
    /// <summary>Detections matching <paramref name="query"/>, newest first, with their labels.</summary>
    IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query);

    /// <summary>Stores labels in one transaction (replacing earlier labels of the same detections). Returns, per label,
    /// null when stored or the reason it was refused (unknown detection).</summary>
    IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels);

    /// <summary>Labels, newest decision first; optionally of one device.</summary>
    IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit);

    /// <summary>Labels with <see cref="DetectionLabelKind.Unknown"/>: detections waiting for a human decision.</summary>
    long CountReviewQueue();
}

namespace EdgeKws.Gateway.Storage;

/// <summary>Values of <see cref="FieldClip.Kind"/> (the same words as the dataset lineage's <c>kind</c>).</summary>
public static class FieldClipKind
{
    /// <summary>A detection's clip.</summary>
    public const string Trigger = "trigger";

    /// <summary>A near miss's clip.</summary>
    public const string NearMiss = "nearMiss";
}

/// <summary>
/// A device clip with a decided label (TrueAccept or FalseAccept), read for a field dataset: a detection's (trigger) or a near miss's.
/// On a trigger TrueAccept means "the device fired on the wake phrase"; on a near miss "the wake phrase was there" (the device missed it).
/// Either way TrueAccept is the keyword class and FalseAccept background.
/// </summary>
/// <param name="Kind"><see cref="FieldClipKind.Trigger"/> or <see cref="FieldClipKind.NearMiss"/>.</param>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">The report's per-device sequence (one sequence space for every message kind of a device).</param>
/// <param name="DeviceTimeUtc">The device's clock when it decided the detection or near miss.</param>
/// <param name="ReceivedUtc">When the gateway stored the report.</param>
/// <param name="StreamOffsetMs">Position of the trigger's (peak's) window end in the device's capture stream.</param>
/// <param name="DeviceScore">The score the device reported.</param>
/// <param name="Keyword">The keyword the device reported, if any.</param>
/// <param name="ModelVersion">The model that scored it.</param>
/// <param name="ClipId">The clip.</param>
/// <param name="Label">TrueAccept or FalseAccept.</param>
/// <param name="LabelSource">The label's source text (e.g. "aligner:..." or "review:alice").</param>
/// <param name="LabeledUtc">When it was labelled.</param>
/// <param name="Provenance">The label's provenance, or null (a trigger label posted without one).</param>
/// <param name="Frame">The stored raw audio frame (<c>ClipAudio</c>) when there is one, else the feature frame (<c>ClipFeatures</c>).</param>
/// <param name="FrameIsAudio">Whether <paramref name="Frame"/> is raw audio.</param>
public sealed record FieldClip(string Kind, string DeviceId, long Sequence, DateTimeOffset DeviceTimeUtc, DateTimeOffset ReceivedUtc, long StreamOffsetMs,
    double DeviceScore, string? Keyword, string ModelVersion, string ClipId, DetectionLabelKind Label, string LabelSource, DateTimeOffset LabeledUtc,
    LabelProvenance? Provenance, byte[] Frame, bool FrameIsAudio);

/// <summary>The field-clip concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IFieldClipStore
{
}

/// <summary>Reading labelled device clips for field datasets (no schema of its own: detections, near misses, labels and clips). One
/// implementation over both databases (<see cref="FieldClipStore"/>).</summary>
public interface IFieldClipStore
{
    /// <summary>
    /// Triggers and near misses whose label is decided (TrueAccept or FalseAccept: never Unknown, i.e. waiting for review, and never
    /// unlabelled) and whose clip is stored (audio preferred, else features), ordered by device (ordinal) and sequence, after
    /// (<paramref name="afterDeviceId"/>, <paramref name="afterSequence"/>).
    /// </summary>
    IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit);
}

namespace EdgeKws.Gateway.Storage;

/// <summary>Where a label came from, kept next to the label so label quality can be audited.</summary>
/// <param name="Kind">"aligner" (automatic) or "review" (a person).</param>
/// <param name="Tool">Aligner and version with the decision procedure (e.g. "pocketsphinx 0.8+5prealpha+1-15; trigger-verifier 2"), or "review".</param>
/// <param name="Confidence">The aligner's confidence 0..1, or null.</param>
/// <param name="Reviewer">Who decided (review labels), null for automatic labels.</param>
public sealed record LabelProvenance(string Kind, string Tool, double? Confidence, string? Reviewer);

/// <summary>Values of <see cref="LabelProvenance.Kind"/>.</summary>
public static class LabelProvenanceKinds
{
    /// <summary>The labeling worker (forced alignment).</summary>
    public const string Aligner = "aligner";

    /// <summary>A person, through the review API.</summary>
    public const string Review = "review";
}

/// <summary>A detection with a clip that the labeling worker has not handled yet.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">The detection's sequence (labels are keyed by it).</param>
/// <param name="ClipId">The clip the detection refers to.</param>
/// <param name="Keyword">The keyword the device reported, if any.</param>
/// <param name="ModelVersion">Model that fired.</param>
/// <param name="AudioFrame">The stored <c>ClipAudio</c> frame, or null when only features were uploaded (no consent) or the audio was deleted.</param>
/// <param name="DeviceScore">The score the device reported with the detection (one of the label's signals).</param>
/// <param name="NearMiss">The clip is a near miss's (<see cref="INearMissStore.ReadUnlabelledNearMissClips"/>), not a detection's: its label goes to
/// the near-miss row (<see cref="INearMissStore.WriteNearMissLabel"/>).</param>
public sealed record TriggerClipWork(string DeviceId, long Sequence, string ClipId, string? Keyword, string ModelVersion, byte[]? AudioFrame, double DeviceScore = double.NaN,
    bool NearMiss = false);

/// <summary>A detection in the review queue (its label is <see cref="DetectionLabelKind.Unknown"/>), with why and what the machine proposes.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">The detection's sequence.</param>
/// <param name="ClipId">Its clip, or null.</param>
/// <param name="HasAudio">Whether raw audio of the clip is stored (can be played).</param>
/// <param name="Reason">Why a person must decide.</param>
/// <param name="Candidate">The label the machine leans to (Unknown when it has no opinion).</param>
/// <param name="Confidence">The aligner's confidence, or null.</param>
/// <param name="Source">The label's source text (e.g. "aligner:pocketsphinx ...", or what POST /api/labels gave).</param>
/// <param name="Tool">The aligner and version when the labeling worker queued it, else null.</param>
/// <param name="QueuedUtc">When it was queued.</param>
public sealed record ReviewQueueEntry(string DeviceId, long Sequence, string? ClipId, bool HasAudio, string Reason, DetectionLabelKind Candidate, double? Confidence,
    string Source, string? Tool, DateTimeOffset QueuedUtc);

/// <summary>A label with its provenance (null when the label was posted without one, e.g. through POST /api/labels).</summary>
/// <param name="Label">The label.</param>
/// <param name="Provenance">Its source in detail, or null.</param>
public sealed record LabelWithProvenance(DetectionLabel Label, LabelProvenance? Provenance);

/// <summary>Agreement of re-reviews with the label each item had when re-reviewed.</summary>
/// <param name="Compared">Re-reviews.</param>
/// <param name="Agreed">Re-reviews whose label equals the label at the time.</param>
/// <param name="ByFirstKind">The same per kind of the first label ("aligner", "review", "other").</param>
public sealed record AgreementCounts(long Compared, long Agreed, IReadOnlyDictionary<string, (long Compared, long Agreed)> ByFirstKind)
{
    /// <summary>Agreed / compared, or null when nothing was compared.</summary>
    public double? Rate => Compared == 0 ? null : (double)Agreed / Compared;
}

/// <summary>A decided (TrueAccept/FalseAccept) detection whose raw audio is stored: an example for a training dataset.</summary>
/// <param name="Label">The label.</param>
/// <param name="Provenance">Its provenance, or null.</param>
/// <param name="ClipId">The clip.</param>
/// <param name="Keyword">The keyword the device reported, if any.</param>
/// <param name="AudioFrame">The stored <c>ClipAudio</c> frame.</param>
public sealed record LabelledClip(DetectionLabel Label, LabelProvenance? Provenance, string ClipId, string? Keyword, byte[] AudioFrame);

/// <summary>The labeling concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : ILabelingStore
{
}

/// <summary>
/// Labeling of trigger clips at the gateway: the worker's input and output, the review queue with its decisions, and the
/// re-review audit. Schema step "labeling" (tables <c>label_provenance</c>, <c>review_entries</c>, <c>label_audits</c>).
/// The review queue is the set of detections labelled <see cref="DetectionLabelKind.Unknown"/> (what
/// <see cref="IGatewayStore.CountReviewQueue"/> counts); <c>review_entries</c> adds the reason and the candidate. One implementation
/// over both databases (<see cref="LabelingStore"/>).
/// </summary>
public interface ILabelingStore
{
    /// <summary>Detections that refer to a stored clip and have neither a label nor a review entry, oldest first: those with raw audio,
    /// and those with only features received before <paramref name="featureOnlyReceivedBeforeUtc"/> (the audio of a clip may still be on
    /// its way after the features).</summary>
    IReadOnlyList<TriggerClipWork> ReadUnlabelledTriggerClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc);

    /// <summary>
    /// Stores the worker's verdict in one transaction: the label (TrueAccept/FalseAccept, or Unknown to queue it for review)
    /// with its provenance; for Unknown also the review entry with <paramref name="reviewReason"/> and <paramref name="candidate"/>.
    /// Returns null when stored, or why not (unknown detection, invalid label).
    /// </summary>
    string? WriteAutomaticLabel(DetectionLabel label, LabelProvenance provenance, string? reviewReason, DetectionLabelKind candidate, string? clipId);

    /// <summary>The review queue (detections labelled Unknown), oldest first.</summary>
    IReadOnlyList<ReviewQueueEntry> ReadReviewQueue(int limit);

    /// <summary>
    /// A person's decision on a queued detection: stores the label with source "review:&lt;reviewer&gt;" and provenance kind
    /// "review" (which takes it out of the queue) and records the decision. Returns null when stored, or why not (not queued,
    /// label not TrueAccept/FalseAccept, no reviewer).
    /// </summary>
    string? DecideReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc);

    /// <summary>The raw audio frame of a clip, or null when none is stored.</summary>
    byte[]? ReadClipAudio(string deviceId, string clipId);

    /// <summary>Labels with their provenance, newest first; optionally of one device.</summary>
    IReadOnlyList<LabelWithProvenance> ReadLabelsWithProvenance(string? deviceId, int limit);

    /// <summary>A seeded sample of decided labels (TrueAccept/FalseAccept) not decided by <paramref name="reviewer"/> and not yet re-reviewed by them.</summary>
    IReadOnlyList<LabelWithProvenance> SampleForReReview(string reviewer, int count, int seed);

    /// <summary>Records a re-review (it does not change the label). Returns null when stored, or why not.</summary>
    string? AddReReview(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc);

    /// <summary>Agreement of all re-reviews with the labels they re-reviewed.</summary>
    AgreementCounts ReadAgreement();

    /// <summary>Decided detections with stored raw audio, ordered by device and sequence, after (<paramref name="afterDeviceId"/>, <paramref name="afterSequence"/>).</summary>
    IReadOnlyList<LabelledClip> ReadLabelledClips(string afterDeviceId, long afterSequence, int limit);
}

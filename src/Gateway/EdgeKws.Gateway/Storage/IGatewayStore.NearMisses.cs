namespace EdgeKws.Gateway.Storage;

/// <summary>A stored near miss (<see cref="EdgeKws.Shared.Contracts.NearMissReport"/>) with its label, if the labeling worker gave one.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">The near miss's outbox sequence.</param>
/// <param name="DeviceTimeUtc">When the device decided it.</param>
/// <param name="ReceivedUtc">When the gateway stored it.</param>
/// <param name="StreamOffsetMs">The peak's position in the device's capture stream.</param>
/// <param name="Score">The peak smoothed score (below <paramref name="Threshold"/>).</param>
/// <param name="Threshold">The device's detection threshold.</param>
/// <param name="BandFloor">The band's floor.</param>
/// <param name="Keyword">The keyword the device reported, if any.</param>
/// <param name="ModelVersion">The model that scored it.</param>
/// <param name="ClipId">Its clip, or null.</param>
/// <param name="HasAudio">Whether raw audio of the clip is stored.</param>
/// <param name="Label">TrueAccept: the wake phrase was there (a missed keyword, a positive); FalseAccept: it was not (a negative);
/// Unknown: a person must decide (<paramref name="ReviewReason"/>); null: not labelled yet.</param>
/// <param name="Candidate">For Unknown, the label the machine leans to.</param>
/// <param name="Provenance">Where the label came from, or null.</param>
/// <param name="ReviewReason">Why the worker could not decide, or null.</param>
/// <param name="LabeledUtc">When it was labelled, or null.</param>
public sealed record NearMissRecord(string DeviceId, long Sequence, DateTimeOffset DeviceTimeUtc, DateTimeOffset ReceivedUtc, long StreamOffsetMs,
    double Score, double Threshold, double BandFloor, string? Keyword, string ModelVersion, string? ClipId, bool HasAudio,
    DetectionLabelKind? Label, DetectionLabelKind? Candidate, LabelProvenance? Provenance, string? ReviewReason, DateTimeOffset? LabeledUtc);

/// <summary>The near-miss concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : INearMissStore
{
}

/// <summary>
/// Near misses (schema step 8, table <c>near_misses</c>): score peaks just below a device's threshold. Their own table, never
/// <c>detections</c>, so nothing that counts detections (FA/hour, detection counts, the review queue of detections) sees them.
/// The labeling worker labels their clips as it labels trigger clips; the label lives on the near-miss row. One implementation
/// over both databases (<see cref="NearMissStore"/>); a near miss is stored by the batch write (<see cref="IIngestStore.WriteBatch"/>).
/// </summary>
public interface INearMissStore
{
    /// <summary>Near misses that refer to a stored clip and have no label yet, oldest first (feature-only clips once received before
    /// <paramref name="featureOnlyReceivedBeforeUtc"/>, as for trigger clips). The work items have <see cref="TriggerClipWork.NearMiss"/> set.</summary>
    IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc);

    /// <summary>Stores the worker's label of a near miss (TrueAccept = the wake phrase was there, FalseAccept = it was not, Unknown = to
    /// review, with <paramref name="reviewReason"/> and <paramref name="candidate"/>). Returns null when stored, or why not.</summary>
    string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc);

    /// <summary>
    /// A person's decision on a near miss the worker left to review (labelled Unknown): TrueAccept = the wake phrase was there (a keyword the
    /// device missed), FalseAccept = it was not. Stored on the near-miss row with provenance kind "review", tool "review" and source
    /// "review:&lt;reviewer&gt;" (the reviewer is read back from the source). Returns null when stored, or why not (not waiting for review,
    /// label not TrueAccept/FalseAccept, no reviewer).
    /// </summary>
    string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc);

    /// <summary>Near misses, newest first; optionally of one device.</summary>
    IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit);
}

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// What the gateway sees of a model version's keywords in one time bucket (device time): the keywords it caught (triggers) and the
/// keywords it missed that still came in as near misses (score peak in the band below the threshold), by label.
/// </summary>
/// <param name="BucketStartUtc">Start of the bucket.</param>
/// <param name="ModelVersion">The model that scored them.</param>
/// <param name="TrueAcceptTriggers">Detections labelled TrueAccept (keywords caught).</param>
/// <param name="TrueAcceptNearMisses">Near misses labelled TrueAccept (keywords missed, seen because they scored in the band).</param>
/// <param name="PendingTriggers">Detections waiting for a decision (<see cref="DetectionLabelStore.PendingReviewSql"/>: Unknown, or unlabelled with a stored clip).</param>
/// <param name="PendingNearMisses">Near misses waiting for a decision (Unknown, or unlabelled with a stored clip).</param>
public readonly record struct RecallRow(DateTimeOffset BucketStartUtc, string ModelVersion, long TrueAcceptTriggers, long TrueAcceptNearMisses,
    long PendingTriggers, long PendingNearMisses);

/// <summary>What the automatic fine-tune policy counts new labels from (the last fine-tune job's submission), kept across restarts.</summary>
/// <param name="SinceUtc">Labels after this time are new.</param>
/// <param name="Since">What it is ("fine-tune job 20261120-...").</param>
/// <param name="JobId">The job, or null.</param>
public sealed record ModelLoopBaseline(DateTimeOffset SinceUtc, string Since, string? JobId);

/// <summary>The model-loop concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IModelLoopStore
{
}

/// <summary>Model loop reads and state (schema step 10: table <c>model_loop_baseline</c>). One implementation over both databases
/// (<see cref="ModelLoopStore"/>).</summary>
public interface IModelLoopStore
{
    /// <summary>Keywords caught and missed per (bucket, model), device time in [from, to): decided TrueAccept triggers and near misses,
    /// and the ones of each still pending review. Buckets are aligned like <see cref="IGatewayStore.ReadActivity"/>'s.</summary>
    IReadOnlyList<RecallRow> ReadRecallActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket);

    /// <summary>Moves the policy's baseline to <paramref name="baseline"/> when it is later than the stored one (or none is stored);
    /// an earlier one is ignored, so several instances or a late write never move it back. Returns whether it moved.</summary>
    bool AdvanceModelLoopBaseline(ModelLoopBaseline baseline);

    /// <summary>The stored baseline, or false when none is stored.</summary>
    bool TryGetModelLoopBaseline(out ModelLoopBaseline? baseline);
}

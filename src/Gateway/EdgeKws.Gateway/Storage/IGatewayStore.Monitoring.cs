using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>Activity of one (time bucket, device, model version): heartbeat listening time and labelled detections.
/// Buckets are by device time, aligned to the Unix epoch.</summary>
/// <param name="BucketStartUtc">Start of the bucket.</param>
/// <param name="DeviceId">Device.</param>
/// <param name="ModelVersion">Model version (of the heartbeat or detection).</param>
/// <param name="ListeningSeconds">Listening seconds of the heartbeats that end in the bucket (<see cref="HeartbeatListening"/>:
/// from totals where heartbeats carry them, so a lost heartbeat's listening counts at the next one that arrives).</param>
/// <param name="TrueAccepts">Detections labelled true accept.</param>
/// <param name="FalseAccepts">Detections labelled false accept.</param>
/// <param name="Unlabelled">Detections without a decided label.</param>
/// <param name="ListeningIncomplete">Some listening time of the bucket cannot be accounted for (see <see cref="HeartbeatListening"/>).</param>
/// <param name="DetectionsLost">Detections the device reports lost by its outbox in the bucket (heartbeats with totals only).</param>
/// <param name="PendingReview">Of <paramref name="Unlabelled"/>, detections still waiting for a decision
/// (<see cref="DetectionLabelStore.PendingReviewSql"/>: labelled Unknown, or unlabelled with their clip stored).</param>
public readonly record struct ActivityRow(DateTimeOffset BucketStartUtc, string DeviceId, string ModelVersion, double ListeningSeconds,
    long TrueAccepts, long FalseAccepts, long Unlabelled, bool ListeningIncomplete = false, long DetectionsLost = 0, long PendingReview = 0);

/// <summary>A stored drift sketch.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">Sequence.</param>
/// <param name="Sketch">The parsed sketch.</param>
public sealed record StoredSketch(string DeviceId, long Sequence, DriftSketch Sketch);

/// <summary>A model version the store knows of (from devices' reports or an uploaded baseline).</summary>
/// <param name="ModelVersion">Version.</param>
/// <param name="ActiveDevices">Devices whose last reported model is this one.</param>
/// <param name="Detections">Detections it produced.</param>
/// <param name="FirstSeenUtc">First report of it (detection, heartbeat or model status), or null.</param>
/// <param name="HasBaseline">Whether a training baseline sketch is stored.</param>
/// <param name="BaselineUploadedUtc">When the baseline was stored, or null.</param>
/// <param name="BaselineFeatureConfigHash">The baseline's feature configuration, or null.</param>
public sealed record ModelRecord(string ModelVersion, long ActiveDevices, long Detections, DateTimeOffset? FirstSeenUtc, bool HasBaseline,
    DateTimeOffset? BaselineUploadedUtc, string? BaselineFeatureConfigHash);

/// <summary>An offline evaluation result: scored trials of one model on an evaluation set, for DET curves.</summary>
/// <param name="Id">Row id (0 before storing).</param>
/// <param name="ModelVersion">Model evaluated.</param>
/// <param name="Name">Evaluation set name.</param>
/// <param name="CreatedUtc">When stored.</param>
/// <param name="NegativeHours">Hours of keyword-free audio behind the negatives (0 if unknown).</param>
/// <param name="Scores">Scores, one per trial.</param>
/// <param name="Positives">Whether each trial is a keyword (same length as <paramref name="Scores"/>).</param>
public sealed record EvaluationRecord(long Id, string ModelVersion, string Name, DateTimeOffset CreatedUtc, double NegativeHours, float[] Scores, bool[] Positives);

/// <summary>Ingest outcome counts over a time range (gateway receive time).</summary>
/// <param name="Stored">Messages stored (first time).</param>
/// <param name="Quarantined">Messages quarantined.</param>
public readonly record struct IngestCounts(long Stored, long Quarantined);

/// <summary>The monitoring concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IMonitoringStore
{
}

/// <summary>The monitoring figures: cohorts, activity, drift sketches, models and baselines, evaluations, ingest counts (schema step 2,
/// with <see cref="IDetectionLabelStore"/> and <see cref="IAlertStore"/>). One implementation over both databases (<see cref="MonitoringStore"/>).</summary>
public interface IMonitoringStore
{
    /// <summary>Sets (or clears with null) a device's cohort. False when the device is unknown.</summary>
    bool SetDeviceCohort(string deviceId, string? cohort);

    /// <summary>Cohort of every device that has one.</summary>
    IReadOnlyDictionary<string, string> ReadCohorts();

    /// <summary>Listening time and labelled detections per (bucket, device, model), device time in [from, to), with the detections
    /// still pending review.</summary>
    IReadOnlyList<ActivityRow> ReadActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket);

    /// <summary>Sketches whose window ends in [from, to); optionally of one model version.</summary>
    IReadOnlyList<StoredSketch> ReadSketches(DateTimeOffset fromUtc, DateTimeOffset toUtc, string? modelVersion);

    /// <summary>Every model version known, ordered by version.</summary>
    IReadOnlyList<ModelRecord> ReadModels();

    /// <summary>Stores (replaces) a model's training baseline sketch.</summary>
    void SetModelBaseline(string modelVersion, DriftSketch baseline, DateTimeOffset nowUtc);

    /// <summary>The model's baseline, or false.</summary>
    bool TryGetModelBaseline(string modelVersion, out DriftSketch? baseline);

    /// <summary>Stores an evaluation; returns its id.</summary>
    long AddEvaluation(EvaluationRecord evaluation);

    /// <summary>Evaluations (newest first), optionally of one model.</summary>
    IReadOnlyList<EvaluationRecord> ReadEvaluations(string? modelVersion, int limit);

    /// <summary>Ingest outcomes by gateway receive time in (from, to], milliseconds: a window ending "now" includes a message
    /// received in the current millisecond, and adjacent windows do not overlap.</summary>
    IngestCounts CountIngest(DateTimeOffset fromUtc, DateTimeOffset toUtc);
}

using EdgeKws.Shared.Contracts;

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
/// (<see cref="MonitoringStore.PendingReviewSql"/>: labelled Unknown, or unlabelled with their clip stored).</param>
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

/// <summary>Alert severity.</summary>
public enum AlertSeverity
{
    /// <summary>Look at it today.</summary>
    Warning = 1,

    /// <summary>Act now.</summary>
    Critical = 2,
}

/// <summary>A condition that holds now. <see cref="Key"/> identifies it across evaluations (deduplication).</summary>
/// <param name="Key">Stable identity, e.g. "no-data/device/dev-1".</param>
/// <param name="Kind">Rule name ("no-data", "fa-budget", "drift", "error-rate", "throughput").</param>
/// <param name="Severity">Severity.</param>
/// <param name="Subject">Where: "device:dev-1", "model:kws-1.0.0", "fleet".</param>
/// <param name="Message">What, with the numbers.</param>
/// <param name="EvidenceUrl">API URL (path and query) showing the evidence.</param>
/// <param name="SinceUtc">When the condition began, if known (else the time it was first seen).</param>
public sealed record AlertCondition(string Key, string Kind, AlertSeverity Severity, string Subject, string Message, string EvidenceUrl, DateTimeOffset? SinceUtc);

/// <summary>A stored alert.</summary>
/// <param name="Id">Row id.</param>
/// <param name="Key">Deduplication key.</param>
/// <param name="Kind">Rule.</param>
/// <param name="Severity">Severity (the latest evaluation's).</param>
/// <param name="Subject">Where.</param>
/// <param name="Message">What (the latest evaluation's).</param>
/// <param name="EvidenceUrl">Evidence.</param>
/// <param name="SinceUtc">Since when the condition holds.</param>
/// <param name="LastEvaluatedUtc">Last evaluation that found it.</param>
/// <param name="ResolvedUtc">When it cleared, or null while active.</param>
public sealed record AlertRecord(long Id, string Key, string Kind, AlertSeverity Severity, string Subject, string Message, string EvidenceUrl,
    DateTimeOffset SinceUtc, DateTimeOffset LastEvaluatedUtc, DateTimeOffset? ResolvedUtc)
{
    /// <summary>Active until resolved.</summary>
    public bool IsActive => ResolvedUtc is null;
}

/// <summary>Ingest outcome counts over a time range (gateway receive time).</summary>
/// <param name="Stored">Messages stored (first time).</param>
/// <param name="Quarantined">Messages quarantined.</param>
public readonly record struct IngestCounts(long Stored, long Quarantined);

/// <summary>The monitoring concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IMonitoringStore
{
}

/// <summary>Monitoring reads and writes (labels, cohorts, baselines, evaluations, alerts). Version 2 of the schema. One implementation
/// over both databases (<see cref="MonitoringStore"/>).</summary>
public interface IMonitoringStore
{
    /// <summary>Sets (or clears with null) a device's cohort. False when the device is unknown.</summary>
    bool SetDeviceCohort(string deviceId, string? cohort);

    /// <summary>Cohort of every device that has one.</summary>
    IReadOnlyDictionary<string, string> ReadCohorts();

    /// <summary>Detections matching <paramref name="query"/>, newest first, with their labels.</summary>
    IReadOnlyList<DetectionRecord> ReadDetections(DetectionQuery query);

    /// <summary>Stores labels in one transaction (replacing earlier labels of the same detections). Returns, per label,
    /// null when stored or the reason it was refused (unknown detection).</summary>
    IReadOnlyList<string?> WriteLabels(IReadOnlyList<DetectionLabel> labels);

    /// <summary>Labels, newest decision first; optionally of one device.</summary>
    IReadOnlyList<DetectionLabel> ReadLabels(string? deviceId, int limit);

    /// <summary>Labels with <see cref="DetectionLabelKind.Unknown"/>: detections waiting for a human decision.</summary>
    long CountReviewQueue();

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

    /// <summary>
    /// Applies one evaluation of the alert rules atomically: a firing condition with no active alert of its key opens
    /// one; one with an active alert updates its message and severity (deduplication); an active alert whose key is not
    /// firing is resolved at <paramref name="nowUtc"/>.
    /// </summary>
    void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc);

    /// <summary>Alerts, newest first (active only, or all).</summary>
    IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit);
}

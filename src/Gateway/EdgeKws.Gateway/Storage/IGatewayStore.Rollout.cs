using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>Where a registered model stands.</summary>
public enum ModelStage
{
    /// <summary>Registered, passed the offline gate (or had no production model to be compared with); may be rolled out.</summary>
    Candidate = 1,

    /// <summary>Registered, refused by the offline gate: never rolled out.</summary>
    Refused = 2,

    /// <summary>What the fleet runs (exactly one model at a time).</summary>
    Production = 3,

    /// <summary>Was production, replaced by a completed rollout.</summary>
    Retired = 4,

    /// <summary>A rollout of it was halted and rolled back (automatically or by an operator).</summary>
    RolledBack = 5,
}

/// <summary>
/// A model in the gateway's registry with its lineage: what it was trained on and by which code, from which parent, what
/// the signed package is, how it evaluated on streaming audio and what the promotion gate said.
/// </summary>
/// <param name="ModelId">Model family id (manifest <c>modelId</c>).</param>
/// <param name="ModelVersion">Version (unique in the registry; manifest <c>modelVersion</c>).</param>
/// <param name="ParentVersion">The model it replaces (the production model when it was built), or null.</param>
/// <param name="DatasetId">Dataset it was trained on (training manifest <c>datasetId</c>).</param>
/// <param name="FeatureConfigHash">MFCC configuration hash (64 hex digits).</param>
/// <param name="CodeCommit">Trainer code commit, or null when unknown.</param>
/// <param name="CodeDirty">Whether the trainer's checkout had uncommitted changes, or null.</param>
/// <param name="FileName">Model file name in the manifest.</param>
/// <param name="ModelSha256">SHA-256 of the INT8 model bytes.</param>
/// <param name="ModelSizeBytes">INT8 model size.</param>
/// <param name="Threshold">Deployed detection threshold (manifest).</param>
/// <param name="SigningKeyId">Id of the key that signed the manifest (first 16 hex digits of SHA-256 of its SPKI).</param>
/// <param name="FaPerHour">Streaming FA/hour at the deployed threshold.</param>
/// <param name="FalseRejectRate">Streaming FRR at the deployed threshold.</param>
/// <param name="FaPerHourResolution">1 / evaluated negative hours.</param>
/// <param name="EvaluationSet">Description of the evaluation streams.</param>
/// <param name="GatePromote">Whether the promotion gate promoted it (true when there was no production model to compare with).</param>
/// <param name="GateSummary">The gate's one-line summary.</param>
/// <param name="GateAgainstVersion">The production model it was gated against, or null.</param>
/// <param name="TrainingManifest">The trainer's manifest (<c>edgekws-training/1</c>) as written.</param>
/// <param name="Evaluation">The evaluation report (<c>edgekws-evaluation/1</c>).</param>
/// <param name="Gate">The gate report (<c>edgekws-gate/1</c>), or null when there was nothing to compare with.</param>
/// <param name="Stage">Where it stands.</param>
/// <param name="RegisteredUtc">When registered.</param>
/// <param name="StageChangedUtc">When <paramref name="Stage"/> last changed.</param>
/// <param name="FloatWeights">The float ONNX the INT8 model was quantized from, kept in the registry (null: registered without; it
/// cannot be fine-tuned).</param>
/// <param name="FineTune">What a fine-tuned model started from and was tuned and judged on (null: not a fine-tune).</param>
public sealed record RegisteredModel(
    string ModelId, string ModelVersion, string? ParentVersion, string DatasetId, string FeatureConfigHash, string? CodeCommit, bool? CodeDirty,
    string FileName, string ModelSha256, long ModelSizeBytes, float Threshold, string SigningKeyId,
    double FaPerHour, double FalseRejectRate, double FaPerHourResolution, string? EvaluationSet,
    bool GatePromote, string GateSummary, string? GateAgainstVersion,
    JsonElement TrainingManifest, JsonElement Evaluation, JsonElement? Gate,
    ModelStage Stage, DateTimeOffset RegisteredUtc, DateTimeOffset StageChangedUtc,
    FloatWeights? FloatWeights = null, FineTuneLineage? FineTune = null);

/// <summary>A registered model's float weights (the bytes are in the store, <see cref="IRolloutStore.TryGetModelFloatWeights"/>).</summary>
/// <param name="Sha256">SHA-256 of the float ONNX; equal to the training manifest's <c>onnx.sha256</c> (checked at registration).</param>
/// <param name="SizeBytes">Its size.</param>
public sealed record FloatWeights(string Sha256, long SizeBytes);

/// <summary>Lineage of a fine-tuned model.</summary>
/// <param name="ParentVersion">The registered model whose float weights it started from.</param>
/// <param name="InitFromSha256">SHA-256 of those float weights (the trainer's <c>initFrom.sha256</c>).</param>
/// <param name="FieldDatasetId">The field dataset it was tuned on (its test split is the held-out slice).</param>
/// <param name="ReplayDatasetId">The base dataset replayed against forgetting, or null.</param>
/// <param name="FieldSlice">The held-out slice rule's verdict (production vs candidate).</param>
/// <param name="Leakage">The leakage check's verdict.</param>
public sealed record FineTuneLineage(string ParentVersion, string InitFromSha256, string FieldDatasetId, string? ReplayDatasetId, string FieldSlice, string Leakage);

/// <summary>The signed package of a registered model: what devices receive.</summary>
/// <param name="Manifest">Exact manifest file bytes (the signed bytes).</param>
/// <param name="Signature">64-byte ECDSA P-256 signature (IEEE P1363) over <paramref name="Manifest"/>.</param>
/// <param name="Model">INT8 ONNX model bytes.</param>
public sealed record ModelPackage(byte[] Manifest, byte[] Signature, byte[] Model);

/// <summary>State of a rollout.</summary>
public enum RolloutState
{
    /// <summary>Sending steps and waiting for confirmations; the production FA/hour rule is watched.</summary>
    Running = 1,

    /// <summary>Halted: rollback commands go to every device that runs the new version, waiting for them to confirm.</summary>
    RollingBack = 2,

    /// <summary>Every step confirmed: the new version is production.</summary>
    Completed = 3,

    /// <summary>Halted and every device that had installed the new version confirmed it runs its old version again.</summary>
    RolledBack = 4,
}

/// <summary>State of one device in a rollout.</summary>
public enum RolloutDeviceState
{
    /// <summary>Its step has not started.</summary>
    Pending = 1,

    /// <summary>Offer and chunks published to it while it was online; waiting for its model status (the confirm timeout runs).</summary>
    Sent = 2,

    /// <summary>It reported the new version active.</summary>
    Confirmed = 3,

    /// <summary>It refused or failed the install (signature, health check, transfer): it still runs its old version.</summary>
    Refused = 4,

    /// <summary>Rollback command published; waiting for its model status.</summary>
    RollingBack = 5,

    /// <summary>It reported its old version active again.</summary>
    RolledBack = 6,

    /// <summary>The rollout halted before this device installed the new version (never sent, or it did not confirm in time).</summary>
    NotInstalled = 7,

    /// <summary>Its step came up (or it was sent to and dropped off before confirming) while it was offline: the offer goes
    /// (again) when it is back online; the confirm timeout does not run meanwhile.</summary>
    WaitingOnline = 8,

    /// <summary>Offline longer than <c>Rollout:OfflineGrace</c>: it no longer holds its wave. If the rollout completes it gets the
    /// version when it returns; if the rollout is rolled back it gets nothing.</summary>
    Deferred = 9,
}

/// <summary>One device of a rollout.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Step">0 = canary step, 1.. = waves.</param>
/// <param name="State">Where it stands.</param>
/// <param name="FromVersion">Model the gateway saw on the device when the rollout was created (what a rollback should return to; the device's own report confirms it), or null when unknown.</param>
/// <param name="TransferId">Transfer id of the offer sent, or null.</param>
/// <param name="SentUtc">When the offer was published.</param>
/// <param name="ConfirmedUtc">When its status confirmed the new version.</param>
/// <param name="RollbackSentUtc">When the rollback command was published.</param>
/// <param name="RolledBackUtc">When its status confirmed the old version.</param>
/// <param name="ReportedVersion">Active version of its latest model status considered.</param>
/// <param name="Reason">Why it was refused / not installed / deferred, or the device's reason text.</param>
/// <param name="Resends">Offers published to it after the first (a reconnect without confirmation, a transfer that timed out); at most <c>Rollout:MaxResends</c>.</param>
/// <param name="OfflineSinceUtc">While WaitingOnline or Deferred: when it was last heard from (its last stored message), else null.</param>
/// <param name="ReconnectedUtc">When it came back online after an offer without getting another (resends used up); the confirm
/// timeout counts from the later of this and <paramref name="SentUtc"/>.</param>
public sealed record RolloutDevice(string DeviceId, int Step, RolloutDeviceState State, string? FromVersion, Guid? TransferId,
    DateTimeOffset? SentUtc, DateTimeOffset? ConfirmedUtc, DateTimeOffset? RollbackSentUtc, DateTimeOffset? RolledBackUtc,
    string? ReportedVersion, string? Reason, int Resends = 0, DateTimeOffset? OfflineSinceUtc = null, DateTimeOffset? ReconnectedUtc = null);

/// <summary>The production FA/hour comparison behind the last rule evaluation of a rollout.</summary>
/// <param name="EvaluatedUtc">When evaluated.</param>
/// <param name="NewListeningHours">Listening hours of the new version on the rollout's devices since the rollout started.</param>
/// <param name="NewFalseAccepts">Labelled false accepts of the new version on them.</param>
/// <param name="NewFaPerHour">Their FA/hour, or null without listening time.</param>
/// <param name="OldFaPerHour">The old version's FA/hour used as reference.</param>
/// <param name="OldSource">Where the reference came from ("fleet 7d: 3 FA in 120.5 h", "offline evaluation", "none").</param>
/// <param name="LimitFaPerHour">RatioLimit x old + slack.</param>
/// <param name="Trip">Whether the rule trips.</param>
/// <param name="Verdict">One line saying why.</param>
/// <param name="NewPendingReview">Detections of the new version on the rollout's devices still pending review.</param>
/// <param name="NewFaPerHourUpper">(labelled false accepts + pending review) / listening hours, or null without listening time.</param>
/// <param name="Hold">The rule does not trip on the decided figure but would with every pending detection a false accept: the rollout
/// does not advance a step or complete while this holds (the verdict says so).</param>
public sealed record FaWatch(DateTimeOffset EvaluatedUtc, double NewListeningHours, long NewFalseAccepts, double? NewFaPerHour,
    double OldFaPerHour, string OldSource, double LimitFaPerHour, bool Trip, string Verdict,
    long NewPendingReview = 0, double? NewFaPerHourUpper = null, bool Hold = false);

/// <summary>A staged rollout: canaries (step 0), then waves, each waiting for the previous step's confirmations and soak.</summary>
/// <param name="Id">Row id (0 before storing).</param>
/// <param name="ModelVersion">Version rolled out.</param>
/// <param name="PreviousVersion">The production version when it started (the comparison reference), or null.</param>
/// <param name="State">Where it stands.</param>
/// <param name="Step">Current step (0 = canaries).</param>
/// <param name="StepCount">1 + number of waves.</param>
/// <param name="SoakListeningHours">New-version listening hours a confirmed step must accumulate before the next starts.</param>
/// <param name="StartedUtc">When started.</param>
/// <param name="UpdatedUtc">Last change.</param>
/// <param name="StepConfirmedUtc">When every device of the current step confirmed, or null.</param>
/// <param name="FinishedUtc">When it completed or finished rolling back.</param>
/// <param name="Reason">Why it halted (rule verdict, device refusal, timeout, "manual: ..."); for a completed rollout, how many
/// devices were deferred; while running, why a step that soaked does not advance (detections pending review, <see cref="FaWatch.Hold"/>);
/// or null.</param>
/// <param name="Devices">Every device of every step.</param>
/// <param name="Watch">The last production FA/hour evaluation, or null.</param>
/// <param name="Revision">Optimistic concurrency counter (the store refuses an update from an older revision).</param>
public sealed record RolloutRecord(long Id, string ModelVersion, string? PreviousVersion, RolloutState State, int Step, int StepCount,
    double SoakListeningHours, DateTimeOffset StartedUtc, DateTimeOffset UpdatedUtc, DateTimeOffset? StepConfirmedUtc, DateTimeOffset? FinishedUtc,
    string? Reason, IReadOnlyList<RolloutDevice> Devices, FaWatch? Watch, long Revision)
{
    /// <summary>Running or rolling back.</summary>
    [JsonIgnore]
    public bool IsActive => State is RolloutState.Running or RolloutState.RollingBack;

    /// <summary>Devices that were offline longer than the grace and did not hold their wave (and have not caught up since).</summary>
    public int DeferredCount => Devices.Count(d => d.State == RolloutDeviceState.Deferred);

    /// <summary>Devices waiting to come back online for their offer.</summary>
    public int WaitingOnlineCount => Devices.Count(d => d.State == RolloutDeviceState.WaitingOnline);
}

/// <summary>A stored model status message.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">Its sequence number.</param>
/// <param name="ReceivedUtc">When the gateway stored it.</param>
/// <param name="ActiveModelVersion">Version running.</param>
/// <param name="UpdateResult">Result of the last attempt.</param>
/// <param name="TargetModelVersion">Version the last attempt tried to install.</param>
/// <param name="Reason">The device's reason text.</param>
public sealed record ModelStatusRecord(string DeviceId, long Sequence, DateTimeOffset ReceivedUtc, string ActiveModelVersion, ModelUpdateResult UpdateResult,
    string? TargetModelVersion, string? Reason);

/// <summary>The registry and rollout concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IRolloutStore
{
}

/// <summary>Model registry and rollout state (schema version 5 of both stores; float weights: version 9). One implementation over
/// both databases (<see cref="RolloutStore"/>).</summary>
public interface IRolloutStore
{
    /// <summary>Stores a registered model and its signed package; false (with the reason) when the version is already registered.</summary>
    bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason);

    /// <summary>Stores a registered model, its signed package and its float weights (null: none) in one write; false (with the
    /// reason) when the version is already registered.</summary>
    bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason);

    /// <summary>A registered model's float weights; false when the version is unknown or was registered without them.</summary>
    bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights);

    /// <summary>Replaces a registered model's record (stage changes); the package is immutable. False when the version is unknown.</summary>
    bool UpdateRegisteredModel(RegisteredModel model);

    /// <summary>Every registered model, newest registration first.</summary>
    IReadOnlyList<RegisteredModel> ReadRegisteredModels();

    /// <summary>One registered model, or false.</summary>
    bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model);

    /// <summary>A registered model's signed package, or false.</summary>
    bool TryGetModelPackage(string modelVersion, out ModelPackage? package);

    /// <summary>Stores a new rollout; returns it with its id and revision 1.</summary>
    RolloutRecord AddRollout(RolloutRecord rollout);

    /// <summary>Replaces a rollout when the stored revision equals <c>rollout.Revision</c>; returns the stored record with the
    /// revision incremented, or null when another writer got there first.</summary>
    RolloutRecord? TryUpdateRollout(RolloutRecord rollout);

    /// <summary>Rollouts, newest first (active only, or all).</summary>
    IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit);

    /// <summary>One rollout, or false.</summary>
    bool TryGetRollout(long id, out RolloutRecord? rollout);

    /// <summary>Model status messages of a device received after <paramref name="receivedAfterUtc"/>, oldest first.</summary>
    IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc);
}

/// <summary>JSON encoding of the registry and rollout documents (<see cref="RolloutStore"/>), so both databases read back the same records.</summary>
internal static class RolloutJson
{
    public static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        o.Converters.Add(new JsonStringEnumConverter());
        return o;
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Json);

    public static T Deserialize<T>(string json, string what) =>
        JsonSerializer.Deserialize<T>(json, Json) ?? throw new InvalidOperationException($"stored {what} is JSON null");
}

/// <summary>Argument rules of the registry members (<see cref="RolloutStore"/>): what a registered model and its package must be.</summary>
internal static class RolloutArgumentRules
{
    public static void Validate(RegisteredModel model, ModelPackage package)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(package);
        if (string.IsNullOrEmpty(model.ModelVersion) || model.ModelVersion.Length > WireLimits.MaxModelVersionLength)
        {
            throw new ArgumentException($"model version must be 1..{WireLimits.MaxModelVersionLength} characters", nameof(model));
        }
        if (package.Signature.Length != ModelTransfer.SignatureSizeBytes || package.Manifest.Length is 0 or > ModelTransfer.MaxManifestBytes || package.Model.Length == 0)
        {
            throw new ArgumentException("package needs a 1..8192-byte manifest, a 64-byte signature and the model bytes", nameof(package));
        }
    }
}

using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// Why a model update (or rollback) did not happen; one value per check, so tests and the gateway
/// can tell the failures apart. <see cref="ModelUpdateOutcome.Result"/> maps each to the coarser
/// wire <see cref="ModelUpdateResult"/>.
/// </summary>
public enum ModelUpdateFailure
{
    None = 0,
    /// <summary>The offer or a chunk did not parse (bad JSON, bad framing, inconsistent geometry).</summary>
    TransferMalformed,
    /// <summary>Not all chunks arrived before the transfer went stale.</summary>
    TransferTimedOut,
    /// <summary>Unsigned, signed with another key, or the manifest bytes were altered.</summary>
    SignatureInvalid,
    /// <summary>The signed manifest does not parse or validate.</summary>
    ManifestInvalid,
    /// <summary>The model was trained on another MFCC configuration than this device's front end.</summary>
    FeatureConfigMismatch,
    /// <summary>The model is larger than the device's model budget.</summary>
    OverBudget,
    /// <summary>Writing the slot failed (disk full, I/O error).</summary>
    StorageFailed,
    /// <summary>The stored model bytes do not match the signed manifest's size/SHA-256 (tampered or corrupt).</summary>
    ModelDigestMismatch,
    /// <summary>ONNX Runtime cannot load the model, or its tensors differ from the manifest.</summary>
    LoadFailed,
    /// <summary>The agent's canary files are missing or unusable, so the model cannot be vetted.</summary>
    CanaryUnavailable,
    /// <summary>The model did not fire on the positive canary.</summary>
    CanaryMissed,
    /// <summary>The model fired on the negative canary.</summary>
    CanaryFalseAlarm,
    /// <summary>p95 inference latency over the bound.</summary>
    TooSlow,
    /// <summary>Rollback asked, but the previous slot holds no vetted, verifiable model.</summary>
    NoPreviousModel,
    /// <summary>The slot switched, but the listening pipeline could not get a detector of the new model (e.g. ONNX
    /// Runtime could not create a second session): the pipeline keeps the model it runs, and the slot pointer is put back.</summary>
    DetectorBuildFailed,
}

/// <summary>Outcome of an install, a rollback or a transfer step.</summary>
/// <param name="Failure"><see cref="ModelUpdateFailure.None"/> when it succeeded.</param>
/// <param name="Reason">Human-readable cause, prefixed with the failure code; empty on an activation, what happened on a rollback.</param>
/// <param name="TargetModelVersion">Version the update tried to install, when known.</param>
/// <param name="RolledBack">The outcome of a successful <see cref="ModelSlots.Rollback"/>.</param>
public sealed record ModelUpdateOutcome(ModelUpdateFailure Failure, string Reason, string? TargetModelVersion, bool RolledBack = false)
{
    public bool Succeeded => Failure == ModelUpdateFailure.None;

    /// <summary>The wire result: signature/digest failures, fitness failures, transport/storage failures.</summary>
    public ModelUpdateResult Result => Failure switch
    {
        ModelUpdateFailure.None => RolledBack ? ModelUpdateResult.RolledBack : ModelUpdateResult.Activated,
        ModelUpdateFailure.SignatureInvalid or ModelUpdateFailure.ModelDigestMismatch => ModelUpdateResult.RejectedSignature,
        ModelUpdateFailure.ManifestInvalid or ModelUpdateFailure.FeatureConfigMismatch or ModelUpdateFailure.OverBudget
            or ModelUpdateFailure.LoadFailed or ModelUpdateFailure.CanaryUnavailable or ModelUpdateFailure.CanaryMissed
            or ModelUpdateFailure.CanaryFalseAlarm or ModelUpdateFailure.TooSlow => ModelUpdateResult.RejectedHealthCheck,
        _ => ModelUpdateResult.Failed,
    };

    /// <summary>Stable kebab-case code of a failure, the first word of every reason.</summary>
    public static string Code(ModelUpdateFailure failure) => failure switch
    {
        ModelUpdateFailure.None => "ok",
        ModelUpdateFailure.TransferMalformed => "transfer-malformed",
        ModelUpdateFailure.TransferTimedOut => "transfer-timed-out",
        ModelUpdateFailure.SignatureInvalid => "signature-invalid",
        ModelUpdateFailure.ManifestInvalid => "manifest-invalid",
        ModelUpdateFailure.FeatureConfigMismatch => "feature-config-mismatch",
        ModelUpdateFailure.OverBudget => "over-budget",
        ModelUpdateFailure.StorageFailed => "storage-failed",
        ModelUpdateFailure.ModelDigestMismatch => "model-digest-mismatch",
        ModelUpdateFailure.LoadFailed => "load-failed",
        ModelUpdateFailure.CanaryUnavailable => "canary-unavailable",
        ModelUpdateFailure.CanaryMissed => "canary-missed",
        ModelUpdateFailure.CanaryFalseAlarm => "canary-false-alarm",
        ModelUpdateFailure.TooSlow => "too-slow",
        ModelUpdateFailure.NoPreviousModel => "no-previous-model",
        ModelUpdateFailure.DetectorBuildFailed => "detector-build-failed",
        _ => "unknown",
    };

    internal static ModelUpdateOutcome Fail(ModelUpdateFailure failure, string detail, string? targetVersion) =>
        new(failure, Code(failure) + ": " + detail, targetVersion);

    internal static ModelUpdateOutcome Ok(string? targetVersion) => new(ModelUpdateFailure.None, "", targetVersion);

    internal static ModelUpdateOutcome RolledBackTo(string targetVersion, string detail) =>
        new(ModelUpdateFailure.None, "rolled-back: " + detail, targetVersion, RolledBack: true);

    /// <summary>
    /// The <see cref="ModelStatus"/> to publish for this outcome; the reason is cut to the wire's
    /// text limit and stripped of control characters so the message always validates.
    /// </summary>
    public ModelStatus ToModelStatus(string deviceId, DateTimeOffset deviceTimeUtc, ModelSlot activeSlot, string activeModelVersion) => new()
    {
        DeviceId = deviceId,
        DeviceTimeUtc = deviceTimeUtc,
        ActiveSlot = activeSlot,
        ActiveModelVersion = WireVersion(activeModelVersion),
        UpdateResult = Result,
        TargetModelVersion = WireVersion(TargetModelVersion ?? (Succeeded ? activeModelVersion : "unknown")),
        Reason = Reason.Length == 0 ? null : WireText(Reason),
    };

    /// <summary>A model version cut to the wire's limit and stripped of control characters.</summary>
    public static string WireVersionOf(string version) => WireVersion(version);

    internal static string WireVersion(string version) =>
        WireText(version.Length <= WireLimits.MaxModelVersionLength ? version : version[..WireLimits.MaxModelVersionLength]);

    internal static string WireText(string text)
    {
        Span<char> buffer = stackalloc char[WireLimits.MaxTextLength];
        int n = 0;
        foreach (char c in text)
        {
            if (n == buffer.Length) break;
            buffer[n++] = char.IsControl(c) ? ' ' : c;
        }
        return new string(buffer[..n]);
    }
}

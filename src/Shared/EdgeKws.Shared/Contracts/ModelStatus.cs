namespace EdgeKws.Shared.Contracts;

/// <summary>The two model slots of the A/B update scheme.</summary>
public enum ModelSlot
{
    /// <summary>Slot A.</summary>
    A = 1,
    /// <summary>Slot B.</summary>
    B = 2,
}

/// <summary>Outcome of the most recent model update attempt.</summary>
public enum ModelUpdateResult
{
    /// <summary>No update was attempted since start (a plain status report).</summary>
    None = 1,
    /// <summary>The new model passed verification and the health check and is active.</summary>
    Activated = 2,
    /// <summary>The manifest signature or the model digest did not verify; nothing changed.</summary>
    RejectedSignature = 3,
    /// <summary>The new model failed the on-device health check; the previous slot stayed active.</summary>
    RejectedHealthCheck = 4,
    /// <summary>The new model was activated, then rolled back to the previous slot.</summary>
    RolledBack = 5,
    /// <summary>Download or storage failed; nothing changed.</summary>
    Failed = 6,
}

/// <summary>Model slot state, published on <c>edgekws/v1/{deviceId}/model-status</c> after every update attempt and at start.</summary>
public sealed class ModelStatus : IWireMessage
{
    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>The reporting device.</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Device wall-clock time of the report, UTC.</summary>
    public DateTimeOffset DeviceTimeUtc { get; init; }

    /// <summary>The slot the detector runs from now.</summary>
    public ModelSlot ActiveSlot { get; init; }

    /// <summary>Version of the model in the active slot.</summary>
    public string ActiveModelVersion { get; init; } = string.Empty;

    /// <summary>Outcome of the last update attempt.</summary>
    public ModelUpdateResult UpdateResult { get; init; }

    /// <summary>Version the last update tried to install (absent when <see cref="UpdateResult"/> is None).</summary>
    public string? TargetModelVersion { get; init; }

    /// <summary>Human-readable cause, required for every result other than None and Activated.</summary>
    public string? Reason { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason)
    {
        if (!(Check.Schema(SchemaVersion, out reason)
            && Check.DeviceId(DeviceId, out reason)
            && Check.Time("deviceTimeUtc", DeviceTimeUtc, out reason)
            && Check.Text("activeModelVersion", ActiveModelVersion, WireLimits.MaxModelVersionLength, required: true, out reason)
            && Check.Text("targetModelVersion", TargetModelVersion, WireLimits.MaxModelVersionLength, required: false, out reason)
            && Check.Text("reason", Reason, WireLimits.MaxTextLength, required: false, out reason)))
        {
            return false;
        }
        if (!Enum.IsDefined(ActiveSlot))
        {
            reason = $"activeSlot {(int)ActiveSlot} is not A or B";
            return false;
        }
        if (!Enum.IsDefined(UpdateResult))
        {
            reason = $"updateResult {(int)UpdateResult} is unknown";
            return false;
        }
        if (UpdateResult is not (ModelUpdateResult.None or ModelUpdateResult.Activated) && string.IsNullOrEmpty(Reason))
        {
            reason = $"reason is required when updateResult is {UpdateResult}";
            return false;
        }
        if (UpdateResult != ModelUpdateResult.None && string.IsNullOrEmpty(TargetModelVersion))
        {
            reason = $"targetModelVersion is required when updateResult is {UpdateResult}";
            return false;
        }
        return true;
    }
}

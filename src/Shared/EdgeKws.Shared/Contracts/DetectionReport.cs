namespace EdgeKws.Shared.Contracts;

/// <summary>A keyword detection, published on <c>edgekws/v1/{deviceId}/detection</c>.</summary>
public sealed class DetectionReport : IWireMessage
{
    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>The device that detected (same as the topic's device id).</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Device wall-clock time of the detection, UTC.</summary>
    public DateTimeOffset DeviceTimeUtc { get; init; }

    /// <summary>Position of the keyword's end in the capture stream since the stream started, in milliseconds
    /// (monotonic: unlike <see cref="DeviceTimeUtc"/> it does not jump when NTP corrects the clock).</summary>
    public long StreamOffsetMs { get; init; }

    /// <summary>Detector score in [0, 1].</summary>
    public float Score { get; init; }

    /// <summary>Keyword label the detector fired on (optional for single-keyword models).</summary>
    public string? Keyword { get; init; }

    /// <summary>Version of the model that produced the score.</summary>
    public string ModelVersion { get; init; } = string.Empty;

    /// <summary>Hash of the MFCC configuration (see <see cref="Contracts.FeatureConfigHash"/>).</summary>
    public string FeatureConfigHash { get; init; } = string.Empty;

    /// <summary>Id of the <see cref="ClipFeatures"/> or <see cref="ClipAudio"/> frame sent for this detection, if any.</summary>
    public Guid? ClipId { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason) =>
        Check.Schema(SchemaVersion, out reason)
        && Check.DeviceId(DeviceId, out reason)
        && Check.Time("deviceTimeUtc", DeviceTimeUtc, out reason)
        && Check.NonNegative("streamOffsetMs", StreamOffsetMs, out reason)
        && CheckScore(out reason)
        && Check.Text("keyword", Keyword, WireLimits.MaxTextLength, required: false, out reason)
        && Check.Text("modelVersion", ModelVersion, WireLimits.MaxModelVersionLength, required: true, out reason)
        && Check.ConfigHash("featureConfigHash", FeatureConfigHash, out reason)
        && CheckClip(out reason);

    private bool CheckScore(out string reason)
    {
        if (!float.IsFinite(Score) || Score < 0f || Score > 1f)
        {
            reason = $"score must be in [0, 1], got {Score}";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    private bool CheckClip(out string reason)
    {
        reason = ClipId == Guid.Empty ? "clipId is the empty GUID (omit it when there is no clip)" : string.Empty;
        return ClipId != Guid.Empty;
    }
}

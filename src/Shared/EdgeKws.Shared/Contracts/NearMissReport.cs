namespace EdgeKws.Shared.Contracts;

/// <summary>
/// A near miss, published on <c>edgekws/v1/{deviceId}/near-miss</c>: the device's smoothed score peaked inside the band
/// [<see cref="BandFloor"/>, <see cref="Threshold"/>) and fell back below the floor without reaching the threshold. It is
/// NOT a detection: it never counts towards detections, FA/hour or the LED.
/// </summary>
/// <remarks>
/// <para><b>Wire contract.</b> A kind of its own (<see cref="MessageKind.NearMiss"/>, topic suffix <c>near-miss</c>) rather
/// than a flag on <see cref="DetectionReport"/>: a gateway that predates near misses ignores unknown JSON fields, so a
/// flagged detection would be counted as a detection (and enter FA/hour) there; an unknown topic is quarantined instead,
/// which loses the near miss but never miscounts. Schema version 1, like every v1 message. Its clip travels as the usual
/// <see cref="ClipAudio"/> (consent) or <see cref="ClipFeatures"/> frame with the same <see cref="ClipId"/>.</para>
/// </remarks>
public sealed class NearMissReport : IWireMessage
{
    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>The device (same as the topic's device id).</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Device wall-clock time when the near miss was decided (when the score fell back below the band), UTC.</summary>
    public DateTimeOffset DeviceTimeUtc { get; init; }

    /// <summary>Position of the peak's window end in the capture stream, in milliseconds (as <see cref="DetectionReport.StreamOffsetMs"/>).</summary>
    public long StreamOffsetMs { get; init; }

    /// <summary>The peak smoothed score, in [<see cref="BandFloor"/>, <see cref="Threshold"/>).</summary>
    public float Score { get; init; }

    /// <summary>The detection threshold in force.</summary>
    public float Threshold { get; init; }

    /// <summary>The lower edge of the band (BandFraction x threshold).</summary>
    public float BandFloor { get; init; }

    /// <summary>Keyword label of the model (optional for single-keyword models).</summary>
    public string? Keyword { get; init; }

    /// <summary>Version of the model that produced the score.</summary>
    public string ModelVersion { get; init; } = string.Empty;

    /// <summary>Hash of the MFCC configuration (see <see cref="Contracts.FeatureConfigHash"/>).</summary>
    public string FeatureConfigHash { get; init; } = string.Empty;

    /// <summary>Id of the clip frame sent for this near miss, if any.</summary>
    public Guid? ClipId { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason) =>
        Check.Schema(SchemaVersion, out reason)
        && Check.DeviceId(DeviceId, out reason)
        && Check.Time("deviceTimeUtc", DeviceTimeUtc, out reason)
        && Check.NonNegative("streamOffsetMs", StreamOffsetMs, out reason)
        && CheckScores(out reason)
        && Check.Text("keyword", Keyword, WireLimits.MaxTextLength, required: false, out reason)
        && Check.Text("modelVersion", ModelVersion, WireLimits.MaxModelVersionLength, required: true, out reason)
        && Check.ConfigHash("featureConfigHash", FeatureConfigHash, out reason)
        && CheckClip(out reason);

    private bool CheckScores(out string reason)
    {
        if (!float.IsFinite(Threshold) || Threshold <= 0f || Threshold > 1f)
        {
            reason = $"threshold must be in (0, 1], got {Threshold}";
            return false;
        }
        if (!float.IsFinite(BandFloor) || BandFloor < 0f || BandFloor >= Threshold)
        {
            reason = $"bandFloor must be in [0, threshold), got {BandFloor} (threshold {Threshold})";
            return false;
        }
        if (!float.IsFinite(Score) || Score < BandFloor || Score >= Threshold)
        {
            reason = $"score must be in [bandFloor, threshold) = [{BandFloor}, {Threshold}), got {Score}";
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

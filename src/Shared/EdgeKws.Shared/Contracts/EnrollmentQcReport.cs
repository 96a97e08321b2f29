namespace EdgeKws.Shared.Contracts;

/// <summary>How an enrollment attempt ended.</summary>
public enum EnrollmentOutcome
{
    /// <summary>Every take passed; the new enrollment is stored on the device.</summary>
    Enrolled = 1,
    /// <summary>A take failed its checks more often than allowed (or the input ran out); the previous enrollment was kept.</summary>
    FailedQc = 2,
    /// <summary>Stopped by the user or an error before the end; the previous enrollment was kept.</summary>
    Interrupted = 3,
}

/// <summary>
/// Quality figures of one enrollment attempt, published on <c>edgekws/v1/{deviceId}/enrollment-qc</c>.
/// Privacy by construction: it has no field that can carry audio, features, a template or any
/// per-frame data, only aggregate figures (dB, ms, ratios) and pass/fail counts. The voice print
/// stays on the device.
/// </summary>
public sealed class EnrollmentQcReport : IWireMessage
{
    /// <summary>Most takes one enrollment may ask for.</summary>
    public const int MaxTakes = 32;

    /// <summary>Most attempts one enrollment may make (takes times attempts per take).</summary>
    public const int MaxAttempts = 32 * 10;

    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>The enrolling device.</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Device wall-clock time at the end of the enrollment, UTC.</summary>
    public DateTimeOffset DeviceTimeUtc { get; init; }

    /// <summary>How it ended.</summary>
    public EnrollmentOutcome Outcome { get; init; }

    /// <summary>Hash of the MFCC configuration the (local) features were computed with.</summary>
    public string FeatureConfigHash { get; init; } = string.Empty;

    /// <summary>Takes the enrollment asked for.</summary>
    public int TakesRequested { get; init; }

    /// <summary>Takes that passed every check.</summary>
    public int TakesAccepted { get; init; }

    /// <summary>Attempts in all (accepted plus rejected).</summary>
    public int Attempts { get; init; }

    /// <summary>Attempts rejected, per check (an attempt can fail several checks).</summary>
    public EnrollmentCheckCounts Rejections { get; init; } = new();

    /// <summary>Lowest SNR among the accepted takes, dB (absent without accepted takes).</summary>
    public double? MinSnrDb { get; init; }

    /// <summary>Mean SNR of the accepted takes, dB.</summary>
    public double? MeanSnrDb { get; init; }

    /// <summary>Shortest speech duration among the accepted takes, ms.</summary>
    public double? MinSpeechMs { get; init; }

    /// <summary>Longest speech duration among the accepted takes, ms.</summary>
    public double? MaxSpeechMs { get; init; }

    /// <summary>Highest speech RMS level among the accepted takes, dBFS.</summary>
    public double? MaxSpeechRmsDbFs { get; init; }

    /// <summary>Lowest speech RMS level among the accepted takes, dBFS.</summary>
    public double? MinSpeechRmsDbFs { get; init; }

    /// <summary>Largest take-to-template DTW distance among the accepted takes.</summary>
    public double? MaxDtwDistance { get; init; }

    /// <summary>The DTW consistency threshold in force.</summary>
    public double DtwThreshold { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason)
    {
        if (!(Check.Schema(SchemaVersion, out reason)
            && Check.DeviceId(DeviceId, out reason)
            && Check.Time("deviceTimeUtc", DeviceTimeUtc, out reason)
            && Check.ConfigHash("featureConfigHash", FeatureConfigHash, out reason)
            && Check.NonNegative("dtwThreshold", DtwThreshold, out reason)))
        {
            return false;
        }
        if (!Enum.IsDefined(Outcome))
        {
            reason = $"outcome {(int)Outcome} is not a known enrollment outcome";
            return false;
        }
        if (TakesRequested is < 1 or > MaxTakes)
        {
            reason = $"takesRequested must be 1..{MaxTakes}, got {TakesRequested}";
            return false;
        }
        if (TakesAccepted < 0 || TakesAccepted > TakesRequested)
        {
            reason = $"takesAccepted must be 0..takesRequested ({TakesRequested}), got {TakesAccepted}";
            return false;
        }
        if (Attempts < TakesAccepted || Attempts > MaxAttempts)
        {
            reason = $"attempts must be takesAccepted ({TakesAccepted})..{MaxAttempts}, got {Attempts}";
            return false;
        }
        if (Outcome == EnrollmentOutcome.Enrolled && TakesAccepted != TakesRequested)
        {
            reason = $"outcome enrolled needs takesAccepted == takesRequested, got {TakesAccepted} of {TakesRequested}";
            return false;
        }
        if (Rejections is null)
        {
            reason = "rejections is required";
            return false;
        }
        if (!Rejections.TryValidate(Attempts - TakesAccepted, out reason))
        {
            reason = "rejections: " + reason;
            return false;
        }
        return Figure("minSnrDb", MinSnrDb, -20, 130, out reason)
            && Figure("meanSnrDb", MeanSnrDb, -20, 130, out reason)
            && Figure("minSpeechMs", MinSpeechMs, 0, 60_000, out reason)
            && Figure("maxSpeechMs", MaxSpeechMs, 0, 60_000, out reason)
            && Figure("maxSpeechRmsDbFs", MaxSpeechRmsDbFs, -130, 10, out reason)
            && Figure("minSpeechRmsDbFs", MinSpeechRmsDbFs, -130, 10, out reason)
            && Figure("maxDtwDistance", MaxDtwDistance, 0, 1e6, out reason);
    }

    private static bool Figure(string field, double? value, double min, double max, out string reason)
    {
        if (value is double v && (!double.IsFinite(v) || v < min || v > max))
        {
            reason = $"{field} must be a finite number in [{min}, {max}], got {v}";
            return false;
        }
        reason = string.Empty;
        return true;
    }
}

/// <summary>Rejected attempts per enrollment check (names match the device's check names).</summary>
public sealed class EnrollmentCheckCounts
{
    /// <summary>No speech found by the VAD.</summary>
    public int NoSpeech { get; init; }
    /// <summary>Speech shorter than the phrase's minimum.</summary>
    public int TooShort { get; init; }
    /// <summary>Speech longer than the phrase's maximum.</summary>
    public int TooLong { get; init; }
    /// <summary>SNR at or below the minimum.</summary>
    public int LowSnr { get; init; }
    /// <summary>Clipping shown.</summary>
    public int Clipped { get; init; }
    /// <summary>Speech level below the minimum.</summary>
    public int TooQuiet { get; init; }
    /// <summary>DTW distance to the other takes above the threshold.</summary>
    public int Inconsistent { get; init; }

    internal bool TryValidate(int rejectedAttempts, out string reason)
    {
        int[] all = [NoSpeech, TooShort, TooLong, LowSnr, Clipped, TooQuiet, Inconsistent];
        foreach (int n in all)
        {
            if (n < 0 || n > rejectedAttempts)
            {
                reason = $"a count ({n}) is outside 0..rejected attempts ({rejectedAttempts})";
                return false;
            }
        }
        reason = string.Empty;
        return true;
    }
}

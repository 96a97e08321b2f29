namespace EdgeKws.Device.Enrollment;

/// <summary>The checks a take must pass. Values are stable (they appear in JSON output by name).</summary>
public enum EnrollmentCheck
{
    /// <summary>The VAD found speech.</summary>
    NoSpeech = 1,
    /// <summary>Main speech segment at least the phrase's minimum.</summary>
    TooShort = 2,
    /// <summary>Main speech segment at most the phrase's maximum (or the recording fits the take buffer).</summary>
    TooLong = 3,
    /// <summary>SNR above the minimum.</summary>
    LowSnr = 4,
    /// <summary>No clipping (<see cref="Shared.Quality.ClippingReading.ShowsClipping"/>).</summary>
    Clipped = 5,
    /// <summary>Speech RMS level at least the minimum.</summary>
    TooQuiet = 6,
    /// <summary>DTW distance to the other accepted takes at most the threshold.</summary>
    Inconsistent = 7,
}

/// <summary>One failed check: what was wrong (with the figure) and what to do about it.</summary>
/// <param name="Check">The check that failed.</param>
/// <param name="Reason">Human reason with the measured figure and the limit, e.g. "background noise: 14.2 dB SNR, 20 dB needed".</param>
/// <param name="Hint">A concrete next step, e.g. "move somewhere quieter or closer to the microphone".</param>
public sealed record TakeFailure(EnrollmentCheck Check, string Reason, string Hint);

/// <summary>Figures measured on one take (null where the figure does not exist, e.g. no speech).</summary>
public readonly record struct TakeFigures
{
    /// <summary>Recorded length, ms.</summary>
    public double RecordingMs { get; init; }
    /// <summary>Main speech segment length, ms.</summary>
    public double? SpeechMs { get; init; }
    /// <summary>Main speech segment start, ms from the start of the recording.</summary>
    public double? SpeechStartMs { get; init; }
    /// <summary>Blind SNR estimate, dB.</summary>
    public double? SnrDb { get; init; }
    /// <summary>Noise floor (10th percentile of 20 ms frame levels), dBFS.</summary>
    public double? NoiseFloorDbFs { get; init; }
    /// <summary>RMS level over the main speech segment, dBFS.</summary>
    public double? SpeechRmsDbFs { get; init; }
    /// <summary>Peak level of the whole recording, dBFS.</summary>
    public double PeakDbFs { get; init; }
    /// <summary>Share of samples at the clip level, 0..1.</summary>
    public double ClippedRatio { get; init; }
    /// <summary>Runs of at least 3 same-sign samples at the clip level.</summary>
    public int ClippedRuns { get; init; }
    /// <summary>Mean DTW distance to the accepted takes (null for the first take or when not reached).</summary>
    public double? DtwDistance { get; init; }
}

/// <summary>Verdict on one attempt. A take is accepted only when <see cref="Failures"/> is empty.</summary>
/// <param name="TakeNumber">1-based take this attempt was for.</param>
/// <param name="Attempt">1-based attempt of that take.</param>
/// <param name="Figures">What was measured.</param>
/// <param name="Failures">Every failed check; empty means accepted.</param>
/// <param name="EnrollmentFailed">True when this was the last allowed attempt of the take and it failed.</param>
public sealed record TakeResult(int TakeNumber, int Attempt, TakeFigures Figures, IReadOnlyList<TakeFailure> Failures, bool EnrollmentFailed)
{
    /// <summary>All checks passed.</summary>
    public bool Accepted => Failures.Count == 0;
}

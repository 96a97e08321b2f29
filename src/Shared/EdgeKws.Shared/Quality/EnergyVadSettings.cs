namespace EdgeKws.Shared.Quality;

/// <summary>Tuning of <see cref="EnergyVad"/>. The defaults suit 16 kHz wake-word takes with a short lead-in.</summary>
public sealed record EnergyVadSettings
{
    /// <summary>Sample rate of the pushed audio.</summary>
    public int SampleRateHz { get; init; } = QualityThresholds.DefaultSampleRateHz;

    /// <summary>Analysis frame; also the time resolution of start and end.</summary>
    public int FrameMs { get; init; } = 10;

    /// <summary>A frame starts speech when it is this far above the noise floor (dB).</summary>
    public double OnsetDb { get; init; } = 9.0;

    /// <summary>Inside speech, a frame still counts as speech down to this far above the floor (dB); at most <see cref="OnsetDb"/>.</summary>
    public double OffsetDb { get; init; } = 6.0;

    /// <summary>Speech ends only after this long without a speech frame; shorter gaps join segments.</summary>
    public int HangoverMs { get; init; } = 200;

    /// <summary>Segments shorter than this (clicks, taps) are discarded.</summary>
    public int MinSpeechMs { get; init; } = 100;

    /// <summary>Absolute gate: frames below this level are never speech, however low the floor (digital silence).</summary>
    public double MinSpeechDbFs { get; init; } = -70.0;

    /// <summary>
    /// The noise floor is the minimum frame level over roughly this much history, kept as
    /// <see cref="EnergyVad.NoiseSubwindowCount"/> sub-window minima. It must exceed the longest
    /// stretch of speech without a pause, or the floor climbs into the speech.
    /// </summary>
    public int NoiseWindowMs { get; init; } = 1600;
}

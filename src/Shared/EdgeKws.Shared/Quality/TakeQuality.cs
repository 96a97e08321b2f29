namespace EdgeKws.Shared.Quality;

/// <summary>
/// Plain quality figures of one finished clip (an enrollment take, a trigger clip). No pass/fail:
/// policy belongs to the caller, who can compare against <see cref="QualityThresholds"/>.
/// </summary>
/// <param name="SampleRateHz">Sample rate of the clip.</param>
/// <param name="Level">Peak and RMS over the whole clip.</param>
/// <param name="Clipping">Clipped samples and runs (its <see cref="ClippingReading.ShowsClipping"/> is the default rule).</param>
/// <param name="Snr">Blind SNR estimate; null when no speech rose above the noise floor.</param>
/// <param name="MainSpeech">The speech segment with the most energy; null when the VAD found none.</param>
/// <param name="SpeechSpan">First speech start to last speech end; null when the VAD found none.</param>
/// <param name="SpeechSegmentCount">Speech segments of at least the VAD's minimum duration.</param>
public readonly record struct TakeQuality(
    int SampleRateHz,
    LevelReading Level,
    ClippingReading Clipping,
    SnrEstimate? Snr,
    SpeechSegment? MainSpeech,
    SpeechSegment? SpeechSpan,
    int SpeechSegmentCount)
{
    /// <summary>Clip length in milliseconds.</summary>
    public double DurationMs => Level.SampleCount * 1000.0 / SampleRateHz;
}

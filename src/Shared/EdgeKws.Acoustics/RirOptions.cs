namespace EdgeKws.Acoustics;

/// <summary>Settings of <see cref="RoomImpulseResponse.Generate"/>. The defaults suit 16 kHz keyword-spotting audio.</summary>
public sealed record RirOptions
{
    /// <summary>The defaults.</summary>
    public static RirOptions Default { get; } = new();

    /// <summary>Sample rate of the impulse response, Hz.</summary>
    public int SampleRateHz { get; init; } = 16000;

    /// <summary>Speed of sound, metres per second (343 at 20 °C).</summary>
    public double SpeedOfSoundMps { get; init; } = 343;

    /// <summary>
    /// Image sources are placed for reflections arriving up to this long after the direct path; the stochastic
    /// diffuse tail takes over from there (after a 5 ms crossfade ending at this time). At least 10 ms.
    /// </summary>
    public double EarlyReflectionsMs { get; init; } = 80;

    /// <summary>Upper bound on the response length, seconds.</summary>
    public double MaxLengthSeconds { get; init; } = 1.2;

    /// <summary>
    /// When true, every arrival is moved earlier by the direct path's exact propagation delay r0 / c (a
    /// fractional number of samples), so the direct path's fractional part is zero: its windowed-sinc
    /// interpolator collapses to a single tap of exactly the direct amplitude at sample 0, with no pre-ringing
    /// to cut off. Convolving speech with the response (<see cref="Convolution.ConvolveSame"/>) then leaves
    /// the dry speech where it was, so word times are unchanged. Sample 0 holds the direct path alone: the
    /// taps of a reflection's interpolator that would fall at or before sample 0 are dropped, which touches
    /// only reflections arriving within the interpolator's half length (40 samples, 2.5 ms at 16 kHz) of the
    /// direct path (grazing reflections off a nearby wall at large distances) and loses only their pre-ringing
    /// unless they arrive within a sample or two.
    /// When false, arrivals keep their propagation delay r / c from the moment of emission (taps before
    /// sample 0 are dropped likewise) and the direct path is a fractional-delay sinc whose largest sample
    /// may be below its amplitude.
    /// </summary>
    public bool RemoveDirectPathDelay { get; init; } = true;

    /// <summary>
    /// When true, the response is scaled by 4 pi r0 so the direct path has amplitude 1 and convolution keeps
    /// the dry speech level; when false, amplitudes are the physical 1 / (4 pi r) of a unit point source.
    /// </summary>
    public bool NormaliseDirectPath { get; init; } = true;

    /// <summary>
    /// Corner of the Allen and Berkley DC-blocking high-pass, Hz (0 disables it). Image sources are all
    /// positive pulses, so without it the response carries a large spurious DC component. 40 Hz removes
    /// that and leaves speech (the lowest voice fundamentals are near 80 Hz) within 0.3 dB.
    /// </summary>
    public double HighPassCutoffHz { get; init; } = 40;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        if (SampleRateHz < 1000 || SampleRateHz > 384_000)
        {
            throw new ArgumentOutOfRangeException(nameof(SampleRateHz), SampleRateHz, "Sample rate must be between 1 kHz and 384 kHz.");
        }

        if (!double.IsFinite(SpeedOfSoundMps) || SpeedOfSoundMps < 100 || SpeedOfSoundMps > 2000)
        {
            throw new ArgumentOutOfRangeException(nameof(SpeedOfSoundMps), SpeedOfSoundMps, "Speed of sound must be between 100 and 2000 m/s.");
        }

        if (!double.IsFinite(EarlyReflectionsMs) || EarlyReflectionsMs < 10 || EarlyReflectionsMs > 500)
        {
            throw new ArgumentOutOfRangeException(nameof(EarlyReflectionsMs), EarlyReflectionsMs, "The image-source part must last between 10 and 500 ms (the tail's level is fitted to it).");
        }

        if (!double.IsFinite(MaxLengthSeconds) || MaxLengthSeconds <= 0 || MaxLengthSeconds > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLengthSeconds), MaxLengthSeconds, "Maximum length must be in (0, 10] seconds.");
        }

        if (!double.IsFinite(HighPassCutoffHz) || HighPassCutoffHz < 0 || HighPassCutoffHz >= SampleRateHz / 4.0)
        {
            throw new ArgumentOutOfRangeException(nameof(HighPassCutoffHz), HighPassCutoffHz, "High-pass corner must be 0 (off) or below a quarter of the sample rate.");
        }
    }
}

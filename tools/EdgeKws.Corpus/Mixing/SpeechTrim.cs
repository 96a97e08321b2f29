namespace EdgeKws.Corpus.Mixing;

/// <summary>
/// Sample-exact silence trim for clean TTS output. The engines pad their audio with digital (or
/// near-digital) silence, so a fixed threshold relative to the chunk's peak finds the first and last
/// speech sample exactly; an adaptive VAD (EdgeKws.Shared.Quality.EnergyVad) would only give 10 ms frames.
/// </summary>
public static class SpeechTrim
{
    /// <summary>Threshold relative to the peak: samples quieter than this are silence.</summary>
    public const double RelativeThresholdDb = -40.0;

    /// <summary>Absolute threshold floor (dBFS); a very quiet chunk is not trimmed into its own noise.</summary>
    public const double AbsoluteThresholdDbFs = -70.0;

    /// <summary>
    /// Finds [start, end) from the first to one past the last sample whose magnitude reaches
    /// max(peak x 10^(<see cref="RelativeThresholdDb"/>/20), 10^(<see cref="AbsoluteThresholdDbFs"/>/20)).
    /// False when no sample does (the chunk is silent).
    /// </summary>
    public static bool TryFindSpeech(ReadOnlySpan<float> samples, out int start, out int end)
    {
        float peak = 0f;
        foreach (float s in samples)
        {
            peak = Math.Max(peak, Math.Abs(s));
        }

        float threshold = (float)Math.Max(peak * Math.Pow(10, RelativeThresholdDb / 20), Math.Pow(10, AbsoluteThresholdDbFs / 20));
        start = 0;
        end = 0;
        if (peak < threshold)
        {
            return false;
        }

        start = 0;
        while (Math.Abs(samples[start]) < threshold)
        {
            start++;
        }

        end = samples.Length;
        while (Math.Abs(samples[end - 1]) < threshold)
        {
            end--;
        }

        return true;
    }
}

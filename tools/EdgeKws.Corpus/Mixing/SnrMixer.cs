namespace EdgeKws.Corpus.Mixing;

/// <summary>A half-open sample range [Start, End).</summary>
public readonly record struct SampleInterval(int Start, int End)
{
    /// <summary>Samples in the range.</summary>
    public int Length => End - Start;
}

/// <summary>
/// Level and SNR arithmetic. Definition used throughout the corpus: SNR (dB) = 10 log10(sum of s[n]^2 /
/// sum of v[n]^2) over the active-speech samples n only (inside the word or phrase intervals), where s is
/// the speech after gain and v the noise actually added. Pauses and padding do not count, so the figure
/// does not depend on how much silence surrounds the speech.
/// </summary>
public static class SnrMixer
{
    /// <summary>Active-speech RMS the clean speech is normalised to before the gain variation (dBFS).</summary>
    public const double ReferenceLevelDbFs = -26.0;

    /// <summary>Mean square of <paramref name="x"/> over <paramref name="intervals"/> (0 when they are empty).</summary>
    public static double MeanSquare(ReadOnlySpan<float> x, IReadOnlyList<SampleInterval> intervals)
    {
        double sum = 0;
        long n = 0;
        foreach (SampleInterval iv in intervals)
        {
            for (int i = iv.Start; i < iv.End; i++)
            {
                sum += (double)x[i] * x[i];
            }

            n += iv.Length;
        }

        return n == 0 ? 0 : sum / n;
    }

    /// <summary>Mean square of a whole span.</summary>
    public static double MeanSquare(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (float v in x)
        {
            sum += (double)v * v;
        }

        return x.Length == 0 ? 0 : sum / x.Length;
    }

    /// <summary>Largest magnitude in a span.</summary>
    public static float Peak(ReadOnlySpan<float> x)
    {
        float p = 0;
        foreach (float v in x)
        {
            p = Math.Max(p, Math.Abs(v));
        }

        return p;
    }

    /// <summary>Multiplies a span in place.</summary>
    public static void Scale(Span<float> x, double factor)
    {
        float f = (float)factor;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] *= f;
        }
    }

    /// <summary>
    /// Scales <paramref name="noise"/> so that, over <paramref name="speechIntervals"/>, speech power over
    /// noise power is <paramref name="snrDb"/>; returns the factor. Where the noise happens to be silent over the speech
    /// intervals (a gap in sparse noise, e.g. babble's talkers all pausing under a short phrase) but not elsewhere, its
    /// power over the whole span stands in, so the noise keeps the level the SNR asks for around the speech. Throws when
    /// the speech is silent there or the noise everywhere.
    /// </summary>
    public static double NoiseScaleForSnr(ReadOnlySpan<float> speech, ReadOnlySpan<float> noise, IReadOnlyList<SampleInterval> speechIntervals, double snrDb)
    {
        double ps = MeanSquare(speech, speechIntervals);
        double pn = MeanSquare(noise, speechIntervals);
        if (pn <= 0)
        {
            pn = MeanSquare(noise);
        }
        if (ps <= 0 || pn <= 0)
        {
            throw new ArgumentException($"Cannot set an SNR of {snrDb} dB: the {(ps <= 0 ? "speech is silent over the speech intervals" : "noise is silent")}.");
        }

        return Math.Sqrt(ps / (pn * Math.Pow(10, snrDb / 10)));
    }

    /// <summary>Adds <paramref name="noise"/> x <paramref name="scale"/> to <paramref name="destination"/> (equal lengths).</summary>
    public static void AddScaled(Span<float> destination, ReadOnlySpan<float> noise, double scale)
    {
        if (noise.Length != destination.Length)
        {
            throw new ArgumentException($"Noise has {noise.Length} samples, the destination {destination.Length}.", nameof(noise));
        }

        float f = (float)scale;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] += noise[i] * f;
        }
    }

    /// <summary>
    /// Measures the SNR of a mix against its clean reference by the corpus definition: the noise is
    /// mixed - clean, both summed over <paramref name="speechIntervals"/>.
    /// </summary>
    public static double MeasureSnrDb(ReadOnlySpan<float> clean, ReadOnlySpan<float> mixed, IReadOnlyList<SampleInterval> speechIntervals)
    {
        if (clean.Length != mixed.Length)
        {
            throw new ArgumentException($"Clean has {clean.Length} samples, mixed {mixed.Length}.", nameof(mixed));
        }

        double ps = 0;
        double pn = 0;
        foreach (SampleInterval iv in speechIntervals)
        {
            for (int i = iv.Start; i < iv.End; i++)
            {
                double s = clean[i];
                double v = mixed[i] - s;
                ps += s * s;
                pn += v * v;
            }
        }

        return 10 * Math.Log10(ps / pn);
    }
}

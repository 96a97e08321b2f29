namespace EdgeKws.Acoustics.Tests;

/// <summary>Test signals and measurements shared by the tests; all deterministic.</summary>
internal static class TestSignals
{
    public const int SampleRateHz = 16000;

    /// <summary>A sine of <paramref name="frequencyHz"/>, amplitude 0.5, phase 0.</summary>
    public static float[] Sine(double frequencyHz, int length, int sampleRateHz = SampleRateHz)
    {
        var samples = new float[length];
        for (int n = 0; n < length; n++)
        {
            samples[n] = (float)(0.5 * Math.Sin(2 * Math.PI * frequencyHz * n / sampleRateHz));
        }

        return samples;
    }

    /// <summary>Uniform noise in [-1, 1) from a seed (the library's generator, so no System.Random).</summary>
    public static float[] Noise(int length, ulong seed)
    {
        var random = new SplitMix64(seed);
        var samples = new float[length];
        for (int n = 0; n < length; n++)
        {
            samples[n] = (float)random.NextDouble(-1, 1);
        }

        return samples;
    }

    public static double Rms(ReadOnlySpan<float> samples)
    {
        double sum = 0;
        foreach (float s in samples)
        {
            sum += (double)s * s;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    /// <summary>
    /// Gain in dB that <paramref name="filter"/> gives a steady 1 s sine: output RMS over input RMS over the
    /// last 0.7 s, after the filter's transient has died away.
    /// </summary>
    public static double MeasuredGainDb(Action<float[]> filter, double frequencyHz)
    {
        float[] input = Sine(frequencyHz, SampleRateHz);
        float[] output = (float[])input.Clone();
        filter(output);
        int settled = (int)(0.3 * SampleRateHz);
        return 20 * Math.Log10(Rms(output.AsSpan(settled)) / Rms(input.AsSpan(settled)));
    }

    /// <summary>Direct O(N M) convolution in double, the reference for the FFT version.</summary>
    public static double[] DirectConvolution(ReadOnlySpan<float> x, ReadOnlySpan<float> h)
    {
        var y = new double[x.Length + h.Length - 1];
        for (int i = 0; i < x.Length; i++)
        {
            for (int j = 0; j < h.Length; j++)
            {
                y[i + j] += (double)x[i] * h[j];
            }
        }

        return y;
    }
}

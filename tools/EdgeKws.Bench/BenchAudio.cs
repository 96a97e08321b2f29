namespace EdgeKws.Bench;

/// <summary>Deterministic benchmark audio: speech-like harmonics, tones and noise at int16 scale.</summary>
public static class BenchAudio
{
    public static short[] Generate(int samples, int seed = 1)
    {
        var rng = new Random(seed);
        var s = new short[samples];
        for (int i = 0; i < samples; i++)
        {
            double t = i / 16000.0;
            double f0 = 120 + 40 * Math.Sin(2 * Math.PI * 0.7 * t);
            double voice = 0;
            for (int h = 1; h <= 8; h++)
            {
                voice += Math.Sin(2 * Math.PI * f0 * h * t) / h;
            }

            double gate = 0.5 + 0.5 * Math.Sin(2 * Math.PI * 1.3 * t);
            s[i] = (short)Math.Clamp(4000 * gate * voice + (rng.NextDouble() - 0.5) * 600, short.MinValue, short.MaxValue);
        }

        return s;
    }
}

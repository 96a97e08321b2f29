namespace EdgeKws.Bench;

/// <summary>Deterministic benchmark audio: speech-like harmonics, tones and noise at int16 scale.</summary>
public static class BenchAudio
{
    public static short[] Generate(int samples, int seed = 1)
    {
        // Same formula as tools/parity/bench_torchaudio.py (its noise comes from numpy's generator).
        var rng = new Random(seed);
        var s = new short[samples];
        double phase = 0;
        for (int i = 0; i < samples; i++)
        {
            double t = i / 16000.0;
            phase += 2 * Math.PI * (120 + 40 * Math.Sin(2 * Math.PI * 0.7 * t)) / 16000.0;
            double voice = 0;
            for (int h = 1; h <= 8; h++)
            {
                voice += Math.Sin(h * phase) / h;
            }

            double gate = 0.5 + 0.5 * Math.Sin(2 * Math.PI * 1.3 * t);
            s[i] = (short)Math.Clamp(4000 * gate * voice + (rng.NextDouble() - 0.5) * 600, short.MinValue, short.MaxValue);
        }

        return s;
    }
}

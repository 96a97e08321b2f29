using EdgeKws.Acoustics;

namespace EdgeKws.Corpus.Mixing;

/// <summary>
/// Steady and impulsive household noises synthesised from a seed (unit RMS; the caller sets the level): a fan or air
/// conditioner and a kitchen. Speech-like household noise (TV, babble) and music are built by the generator from
/// synthesised words and <see cref="SyntheticSources.Music"/>.
/// </summary>
public static class HomeNoise
{
    private const int Rate = 16_000;

    /// <summary>
    /// A fan: broadband air noise (pink/brown, low-passed at 1-4 kHz) with a slow random flutter, plus the blade-pass tone
    /// and a few harmonics (20-120 Hz) and, sometimes, a motor whine at 200-800 Hz.
    /// </summary>
    public static float[] Fan(int length, DeterministicRandom rng)
    {
        float[] air = SyntheticSources.Noise(rng.NextDouble() < 0.5 ? NoiseKind.Pink : NoiseKind.Brown, length, rng);
        new Biquad(new BiquadSpec(BiquadKind.LowPass, rng.NextDouble(1000, 4000), 0.707), Rate).Process(air);
        double blade = rng.NextDouble(20, 120), whine = rng.NextDouble(200, 800);
        double bladeLevel = rng.NextDouble(0.05, 0.5), whineLevel = rng.NextDouble() < 0.4 ? rng.NextDouble(0.02, 0.2) : 0;
        double flutterHz = rng.NextDouble(0.2, 2), flutterDepth = rng.NextDouble(0, 0.3), phase = rng.NextDouble(0, 2 * Math.PI);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            double t = (double)i / Rate;
            double tones = (bladeLevel * (Math.Sin(2 * Math.PI * blade * t) + (0.5 * Math.Sin(4 * Math.PI * blade * t)) + (0.25 * Math.Sin(6 * Math.PI * blade * t))))
                + (whineLevel * Math.Sin(2 * Math.PI * whine * t));
            x[i] = (float)((air[i] * (1 + (flutterDepth * Math.Sin((2 * Math.PI * flutterHz * t) + phase)))) + tones);
        }

        return SyntheticSources.UnitRms(x);
    }

    /// <summary>
    /// A kitchen: running water (band-passed noise with a fast random level), clatter of dishes and cutlery (decaying
    /// resonances at 1-6 kHz, 2-12 per second) and sometimes a fridge hum under it.
    /// </summary>
    public static float[] Kitchen(int length, DeterministicRandom rng)
    {
        var x = new float[length];
        if (rng.NextDouble() < 0.6)
        {
            float[] water = SyntheticSources.Noise(NoiseKind.White, length, rng);
            new Biquad(new BiquadSpec(BiquadKind.BandPass, rng.NextDouble(1500, 4000), rng.NextDouble(0.5, 1.5)), Rate).Process(water);
            double level = rng.NextDouble(0.2, 1), g = 1;
            for (int i = 0; i < length; i++)
            {
                if (i % 160 == 0)
                {
                    g = 0.6 + (0.8 * rng.NextDouble()); // gurgle: a new level every 10 ms
                }

                x[i] += (float)(level * g * water[i]);
            }
        }

        double perSecond = rng.NextDouble(2, 12);
        for (int at = (int)(rng.NextDouble() * Rate / perSecond); at < length; at += 1 + (int)(rng.NextDouble(0.2, 1.8) * Rate / perSecond))
        {
            double f = rng.NextDouble(1000, 6000), decay = rng.NextDouble(0.01, 0.08), amp = rng.NextDouble(0.5, 4);
            int n = Math.Min(length - at, (int)(decay * 5 * Rate));
            for (int i = 0; i < n; i++)
            {
                double t = (double)i / Rate;
                x[at + i] += (float)(amp * Math.Exp(-t / decay) * Math.Sin(2 * Math.PI * f * t * (1 + (0.3 * Math.Sin(2 * Math.PI * 7 * t)))));
            }
        }

        if (rng.NextDouble() < 0.3)
        {
            float[] hum = SyntheticSources.Noise(SyntheticSources.Hum, length, rng);
            for (int i = 0; i < length; i++)
            {
                x[i] += 0.1f * hum[i];
            }
        }

        return SyntheticSources.UnitRms(x);
    }
}

namespace EdgeKws.Corpus.Mixing;

/// <summary>
/// Non-speech sounds for the train and validation negative streams, synthesised in C# from a seeded
/// <see cref="DeterministicRandom"/>: no sox call, so no byte of them can equal the test stream's sox noise
/// beds or its six plucked chords (<see cref="NoiseBank"/>), and every segment is a fresh draw. Every
/// returned buffer has unit RMS (the caller sets the level).
/// </summary>
public static class SyntheticSources
{
    private const int Rate = 16_000;

    /// <summary>Noise kinds <see cref="Noise"/> renders: the three colours plus mains hum.</summary>
    public static IReadOnlyList<string> NoiseKinds { get; } = [NoiseKind.White, NoiseKind.Pink, NoiseKind.Brown, Hum];

    /// <summary>Mains hum (50 or 60 Hz and harmonics): a stream segment noise kind, not a clip noise option.</summary>
    public const string Hum = "hum";

    /// <summary>Unit-RMS noise of <paramref name="kind"/> (white, pink, brown or hum), <paramref name="length"/> samples.</summary>
    public static float[] Noise(string kind, int length, DeterministicRandom rng)
    {
        var x = new float[length];
        switch (kind)
        {
            case NoiseKind.White:
                for (int i = 0; i < length; i++)
                {
                    x[i] = (float)Gaussian(rng);
                }

                break;
            case NoiseKind.Pink:
                {
                    // Paul Kellet's "refined" pink filter over white noise (within 0.05 dB of 1/f above 9 Hz at 44.1 kHz;
                    // at 16 kHz the slope is still close to 1/f over the speech band).
                    double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
                    for (int i = 0; i < length; i++)
                    {
                        double w = Gaussian(rng);
                        b0 = (0.99886 * b0) + (w * 0.0555179);
                        b1 = (0.99332 * b1) + (w * 0.0750759);
                        b2 = (0.96900 * b2) + (w * 0.1538520);
                        b3 = (0.86650 * b3) + (w * 0.3104856);
                        b4 = (0.55000 * b4) + (w * 0.5329522);
                        b5 = (-0.7616 * b5) - (w * 0.0168980);
                        x[i] = (float)(b0 + b1 + b2 + b3 + b4 + b5 + b6 + (w * 0.5362));
                        b6 = w * 0.115926;
                    }

                    break;
                }

            case NoiseKind.Brown:
                {
                    // Leaky integrator (1/f^2 above ~13 Hz); the leak keeps it from drifting.
                    double y = 0;
                    for (int i = 0; i < length; i++)
                    {
                        y = (0.995 * y) + Gaussian(rng);
                        x[i] = (float)y;
                    }

                    break;
                }

            case Hum:
                {
                    double f0 = rng.NextDouble() < 0.5 ? 50 : 60;
                    f0 *= rng.NextDouble(0.99, 1.01);
                    int harmonics = rng.Next(3, 12);
                    var amp = new double[harmonics + 1];
                    var phase = new double[harmonics + 1];
                    for (int k = 1; k <= harmonics; k++)
                    {
                        // Transformer hum is rich in odd harmonics; buzz has even ones too.
                        amp[k] = rng.NextDouble(0.1, 1.0) / Math.Pow(k, rng.NextDouble(0.3, 1.2)) * (k % 2 == 1 ? 1 : rng.NextDouble(0, 1));
                        phase[k] = rng.NextDouble(0, 2 * Math.PI);
                    }

                    double hiss = rng.NextDouble(0, 0.2);
                    for (int i = 0; i < length; i++)
                    {
                        double t = (double)i / Rate;
                        double v = 0;
                        for (int k = 1; k <= harmonics && k * f0 < 7000; k++)
                        {
                            v += amp[k] * Math.Sin((2 * Math.PI * k * f0 * t) + phase[k]);
                        }

                        x[i] = (float)(v + (hiss * Gaussian(rng)));
                    }

                    break;
                }

            default:
                throw new ArgumentException($"'{kind}' is not a synthetic noise kind; use {string.Join(", ", NoiseKinds)}.", nameof(kind));
        }

        return UnitRms(x);
    }

    /// <summary>Timbres of <see cref="Music"/> notes.</summary>
    private enum Timbre
    {
        Pluck,
        Sine,
        Organ,
        Square,
        Saw,
        Bell,
    }

    private static readonly int[][] ChordIntervals =
    [
        [0, 4, 7], [0, 3, 7], [0, 4, 7, 10], [0, 3, 7, 10], [0, 5, 7], [0, 7, 12], [0, 4, 7, 11], [0, 3, 6],
    ];

    private static readonly int[] Major = [0, 2, 4, 5, 7, 9, 11];
    private static readonly int[] Minor = [0, 2, 3, 5, 7, 8, 10];

    /// <summary>
    /// A random piece of "music", <paramref name="length"/> samples, unit RMS: a chord progression (one of six
    /// timbres, 3-4 notes, root MIDI 40-67), often a melody over it, a bass line and a drum pattern
    /// (kick, snare, hats), at a random tempo. Far from real music, but it spans tonal, percussive and
    /// harmonic sounds, which single plucked triads do not.
    /// </summary>
    public static float[] Music(int length, DeterministicRandom rng)
    {
        var x = new float[length];
        double beat = rng.NextDouble(0.3, 0.8) * Rate;
        int beatsPerChord = rng.Next(1, 5);
        int key = rng.Next(40, 68);
        int[] scale = rng.NextDouble() < 0.5 ? Major : Minor;
        Timbre chordTimbre = (Timbre)rng.Next(6);
        Timbre melodyTimbre = (Timbre)rng.Next(6);
        bool melody = rng.NextDouble() < 0.6;
        bool bass = rng.NextDouble() < 0.5;
        bool drums = rng.NextDouble() < 0.5;
        bool arpeggio = rng.NextDouble() < 0.3;
        double chordGain = rng.NextDouble(0.4, 1.0);
        int beats = (int)Math.Ceiling(length / beat) + 1;
        for (int b = 0; b < beats; b += beatsPerChord)
        {
            int root = key + scale[rng.Next(scale.Length)];
            int[] chord = rng.Pick(ChordIntervals);
            int start = (int)(b * beat);
            int dur = (int)(beatsPerChord * beat);
            for (int n = 0; n < chord.Length; n++)
            {
                int at = arpeggio ? start + (int)(n * beat / 4) : start;
                Note(x, at, dur, Midi(root + chord[n]), chordTimbre, chordGain / chord.Length, rng);
            }

            if (bass)
            {
                for (int k = 0; k < beatsPerChord; k++)
                {
                    Note(x, start + (int)(k * beat), (int)beat, Midi(root - 12), Timbre.Sine, 0.5, rng);
                }
            }
        }

        if (melody)
        {
            double at = 0;
            int degree = rng.Next(scale.Length);
            while (at < length)
            {
                double len = beat * rng.Pick(new[] { 0.25, 0.5, 0.5, 1.0, 1.0, 2.0 });
                degree = Math.Clamp(degree + rng.Next(-2, 3), 0, (2 * scale.Length) - 1);
                int midi = key + 12 + scale[degree % scale.Length] + (12 * (degree / scale.Length));
                if (rng.NextDouble() < 0.85)
                {
                    Note(x, (int)at, (int)len, Midi(midi), melodyTimbre, rng.NextDouble(0.3, 0.8), rng);
                }

                at += len;
            }
        }

        if (drums)
        {
            double drumGain = rng.NextDouble(0.3, 1.2);
            for (int b = 0; b < beats; b++)
            {
                int at = (int)(b * beat);
                if (b % 2 == 0)
                {
                    Kick(x, at, drumGain, rng);
                }
                else
                {
                    Snare(x, at, drumGain * 0.7, rng);
                }

                Hat(x, at + (int)(beat / 2), drumGain * 0.3, rng);
            }
        }

        return UnitRms(x);
    }

    private static double Midi(int note) => 440 * Math.Pow(2, (note - 69) / 12.0);

    private static void Note(float[] x, int start, int length, double freq, Timbre timbre, double gain, DeterministicRandom rng)
    {
        if (start >= x.Length || length <= 0)
        {
            return;
        }

        int end = Math.Min(x.Length, start + length + (Rate / 5));
        if (timbre == Timbre.Pluck)
        {
            // Karplus-Strong: a noise burst in a delay line of one period, averaged and damped each pass.
            int period = Math.Max(2, (int)Math.Round(Rate / freq));
            var line = new double[period];
            for (int i = 0; i < period; i++)
            {
                line[i] = rng.NextDouble(-1, 1);
            }

            double damp = rng.NextDouble(0.990, 0.999);
            for (int i = start, p = 0; i < end; i++, p = (p + 1) % period)
            {
                double v = line[p];
                line[p] = damp * 0.5 * (v + line[(p + 1) % period]);
                x[i] += (float)(gain * v);
            }

            return;
        }

        // Additive: harmonic amplitudes per timbre, under 7 kHz; exponential decay or a sustained envelope.
        int harmonics = Math.Max(1, Math.Min(10, (int)(7000 / freq)));
        var amp = new double[harmonics + 1];
        for (int k = 1; k <= harmonics; k++)
        {
            amp[k] = timbre switch
            {
                Timbre.Sine => k == 1 ? 1 : 0,
                Timbre.Organ => k is 1 or 2 or 3 or 4 or 6 or 8 ? 1.0 / Math.Sqrt(k) : 0,
                Timbre.Square => k % 2 == 1 ? 1.0 / k : 0,
                Timbre.Saw => 1.0 / k,
                _ => k is 1 or 3 or 5 ? 1.0 / k : 0.3 / k, // Bell (made inharmonic below)
            };
        }

        double inharmonic = timbre == Timbre.Bell ? rng.NextDouble(1.005, 1.03) : 1.0;
        var ratio = new double[harmonics + 1];
        for (int k = 1; k <= harmonics; k++)
        {
            ratio[k] = Math.Pow(k, inharmonic);
        }
        bool sustained = timbre is Timbre.Organ or Timbre.Square || rng.NextDouble() < 0.3;
        double tau = rng.NextDouble(0.1, 1.0) * Rate;
        int attack = (int)(rng.NextDouble(0.003, sustained ? 0.08 : 0.02) * Rate);
        int release = Rate / 20;
        double vibrato = rng.NextDouble() < 0.3 ? rng.NextDouble(0.002, 0.01) : 0;
        double vibratoHz = rng.NextDouble(4, 7);
        double phase = 0;
        for (int i = start; i < end; i++)
        {
            int t = i - start;
            double env = t < attack ? (double)t / attack : sustained ? 1 : Math.Exp(-(t - attack) / tau);
            if (t > length)
            {
                env *= Math.Max(0, 1 - ((double)(t - length) / release));
            }

            if (env <= 1e-4 && t > attack)
            {
                break;
            }

            phase += 2 * Math.PI * freq * (1 + (vibrato * Math.Sin(2 * Math.PI * vibratoHz * t / Rate))) / Rate;
            double v = 0;
            for (int k = 1; k <= harmonics; k++)
            {
                if (amp[k] != 0)
                {
                    v += amp[k] * Math.Sin(phase * ratio[k]);
                }
            }

            x[i] += (float)(gain * env * v);
        }
    }

    private static void Kick(float[] x, int start, double gain, DeterministicRandom rng)
    {
        int n = Math.Min(x.Length - start, (int)(0.25 * Rate));
        double f0 = rng.NextDouble(100, 160), f1 = rng.NextDouble(40, 60), phase = 0;
        for (int t = 0; t < n; t++)
        {
            double f = f1 + ((f0 - f1) * Math.Exp(-t / (0.03 * Rate)));
            phase += 2 * Math.PI * f / Rate;
            x[start + t] += (float)(gain * 1.5 * Math.Sin(phase) * Math.Exp(-t / (0.08 * Rate)));
        }
    }

    private static void Snare(float[] x, int start, double gain, DeterministicRandom rng)
    {
        int n = Math.Min(x.Length - start, (int)(0.2 * Rate));
        for (int t = 0; t < n; t++)
        {
            double env = Math.Exp(-t / (0.05 * Rate));
            x[start + t] += (float)(gain * env * ((0.7 * Gaussian(rng)) + (0.5 * Math.Sin(2 * Math.PI * 190 * t / Rate))));
        }
    }

    private static void Hat(float[] x, int start, double gain, DeterministicRandom rng)
    {
        int n = Math.Min(x.Length - start, (int)(0.05 * Rate));
        double previous = 0;
        for (int t = 0; t < n; t++)
        {
            // First difference of white noise: a crude high-pass, enough for a hi-hat's hiss.
            double w = Gaussian(rng);
            x[start + t] += (float)(gain * (w - previous) * Math.Exp(-t / (0.012 * Rate)));
            previous = w;
        }
    }

    private static double Gaussian(DeterministicRandom rng)
    {
        // Box-Muller; 1 - u keeps the log argument in (0, 1].
        double u = 1 - rng.NextDouble(), v = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }

    internal static float[] UnitRms(float[] x)
    {
        double ms = SnrMixer.MeanSquare(x);
        SnrMixer.Scale(x, ms > 0 ? 1 / Math.Sqrt(ms) : 0);
        return x;
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using EdgeKws.Shared.Audio;

namespace EdgeKws.ResamplerAotCheck;

/// <summary>
/// A fixed test signal per input rate and the SHA-256 of what <see cref="Resampler"/> makes of it. The same code
/// runs in the test process (JIT) and in this program's NativeAOT binary, so equal hashes mean equal bits.
/// </summary>
public static class ResamplerFingerprint
{
    /// <summary>Down- and up-sampling ratios, including ones whose taps per output are not a multiple of 4 or 8.</summary>
    public static readonly int[] InputRatesHz = [8000, 11025, 22050, 32000, 44100, 48000];

    /// <summary>Seconds of signal per rate.</summary>
    public const int Seconds = 2;

    /// <summary>
    /// Two seconds of int16-valued samples: a sweep, two tones and white noise from an integer generator. The
    /// samples are rounded to int16 steps so the input is the same whatever libm's sine returns in its last bit.
    /// </summary>
    public static float[] Signal(int rateHz)
    {
        var x = new float[rateHz * Seconds];
        uint state = 0x2545F491u;
        for (int n = 0; n < x.Length; n++)
        {
            double t = (double)n / rateHz;
            state = (state * 1664525u) + 1013904223u; // Numerical Recipes LCG: the same sequence everywhere
            double noise = ((state >> 8) / (double)(1 << 24)) - 0.5;
            double v = (0.3 * Math.Sin(2 * Math.PI * (50 * t + (0.5 * 2000 * t * t))))
                     + (0.2 * Math.Sin(2 * Math.PI * 997 * t)) + (0.1 * Math.Sin(2 * Math.PI * 7100 * t)) + (0.2 * noise);
            x[n] = (float)Math.Round(v * 32768) / 32768f;
        }

        return x;
    }

    /// <summary>Resamples <see cref="Signal"/> to 16 kHz in uneven chunks plus the flush; returns the SHA-256 (hex) of
    /// the input and of the output float32 bytes, and the output length.</summary>
    public static (string InputSha256, string OutputSha256, int OutputSamples) Compute(int inputRateHz)
    {
        float[] x = Signal(inputRateHz);
        var resampler = new Resampler(inputRateHz);
        var output = new float[resampler.GetMaxOutputCount(x.Length) + resampler.MaxFlushCount];
        int written = 0;
        for (int i = 0; i < x.Length; i += 1013)
        {
            written += resampler.Process(x.AsSpan(i, Math.Min(1013, x.Length - i)), output.AsSpan(written));
        }

        written += resampler.Flush(output.AsSpan(written));
        return (Hash(x), Hash(output.AsSpan(0, written)), written);
    }

    /// <summary>Wall time of resampling one minute of <see cref="Signal"/> (repeated) to 16 kHz in 10 ms blocks, best of
    /// <paramref name="runs"/>: a speed figure that runs the same way under the JIT and NativeAOT.</summary>
    public static double BestMillisecondsPerMinute(int inputRateHz, int runs)
    {
        float[] x = Signal(inputRateHz);
        int block = inputRateHz / 100;
        var resampler = new Resampler(inputRateHz);
        var output = new float[resampler.GetMaxOutputCount(block)];
        double best = double.MaxValue;
        for (int run = 0; run <= runs; run++) // run 0 warms up (JIT tiers, caches) and is not counted
        {
            resampler.Reset();
            long start = Stopwatch.GetTimestamp();
            for (int repeat = 0; repeat < 60 / Seconds; repeat++)
            {
                for (int i = 0; i + block <= x.Length; i += block)
                {
                    resampler.Process(x.AsSpan(i, block), output);
                }
            }

            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            best = run == 0 ? best : Math.Min(best, ms);
        }

        return best;
    }

    // Little-endian float32 bytes: every supported board and server is little-endian.
    private static string Hash(ReadOnlySpan<float> samples) =>
        Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(samples)));
}

using System.Buffers.Binary;
using System.Diagnostics;

namespace EdgeKws.Shared.Tests.Quality;

/// <summary>
/// Generates test audio with the real tools (sox, espeak-ng) into a private temp directory that is
/// deleted on dispose, and reads raw 16-bit little-endian mono back as floats (int16 / 32768f).
/// Nothing generated here is committed.
/// </summary>
internal sealed class AudioFixtures : IDisposable
{
    public const int SampleRateHz = 16_000;

    public AudioFixtures()
    {
        Directory = Path.Combine(Path.GetTempPath(), "edgekws-quality-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>
    /// Runs sox in repeatable mode (-R: fixed seed for synth noise) without dither (-D), so the
    /// same command gives the same samples every run; fails the test with sox's stderr if it fails.
    /// </summary>
    public void Sox(params string[] args) => Run("sox", ["-D", "-R", .. args]);

    /// <summary>Speaks <paramref name="text"/> with espeak-ng into a WAV file (espeak's own rate) and returns its path.</summary>
    public string Espeak(string text, string name, string voice = "en")
    {
        string path = PathOf(name);
        Run("espeak-ng", ["-v", voice, "-w", path, text]);
        return path;
    }

    /// <summary>Converts any sox-readable file to 16 kHz mono signed 16-bit raw and reads it as floats.</summary>
    public float[] ToSamples(string inputPath)
    {
        string raw = Path.ChangeExtension(inputPath, ".s16");
        Sox(inputPath, "-r", "16000", "-c", "1", "-e", "signed", "-b", "16", "-t", "raw", raw);
        return ReadS16(raw);
    }

    /// <summary>Reads raw signed 16-bit little-endian mono samples normalized to [-1, 1).</summary>
    public static float[] ReadS16(string rawPath)
    {
        byte[] bytes = File.ReadAllBytes(rawPath);
        Assert.True(bytes.Length % 2 == 0, $"{rawPath} has an odd byte count; not 16-bit raw.");
        var samples = new float[bytes.Length / 2];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(2 * i)) / 32768f;
        }

        return samples;
    }

    /// <summary>Duration in seconds as sox reports it.</summary>
    public static double SoxiSeconds(string path)
    {
        string output = Run("soxi", ["-D", path]);
        return double.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp dir must not fail a test.
        }
    }

    private static string Run(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {tool}");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Result}");
        return stdout;
    }
}

/// <summary>Deterministic synthetic signals (sine, Gaussian noise) for exact-level tests.</summary>
internal static class Signals
{
    public static float[] Sine(int samples, double frequencyHz, double amplitude, int sampleRateHz = AudioFixtures.SampleRateHz)
    {
        var x = new float[samples];
        for (int i = 0; i < samples; i++)
        {
            x[i] = (float)(amplitude * Math.Sin(2 * Math.PI * frequencyHz * i / sampleRateHz));
        }

        return x;
    }

    /// <summary>Gaussian white noise with the given RMS (Box-Muller on a seeded generator).</summary>
    public static float[] Noise(int samples, double rms, int seed)
    {
        var rng = new Random(seed);
        var x = new float[samples];
        for (int i = 0; i < samples; i++)
        {
            double u1 = 1.0 - rng.NextDouble();
            double u2 = rng.NextDouble();
            x[i] = (float)(rms * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return x;
    }

    public static double MeanSquare(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (float v in x)
        {
            sum += (double)v * v;
        }

        return sum / x.Length;
    }

    /// <summary>Rounds to int16 codes and back, as a 16-bit capture would.</summary>
    public static void QuantizeInt16(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = Math.Clamp(MathF.Round(x[i] * 32768f), -32768f, 32767f) / 32768f;
        }
    }

    public static float[] Concat(params float[][] parts)
    {
        int n = 0;
        foreach (float[] p in parts)
        {
            n += p.Length;
        }

        var all = new float[n];
        int at = 0;
        foreach (float[] p in parts)
        {
            p.CopyTo(all, at);
            at += p.Length;
        }

        return all;
    }
}

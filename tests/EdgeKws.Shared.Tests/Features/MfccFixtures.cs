using System.Buffers.Binary;
using System.Text.Json;
using EdgeKws.Shared.Features;

namespace EdgeKws.Shared.Tests.Features;

/// <summary>Reads the parity fixtures written by tools/parity/mfcc_golden.py.</summary>
internal static class MfccFixtures
{
    public sealed record Fixture(string Name, short[] Signal, double[] Golden, int Frames, int Coefficients, string ConfigText, string PythonHash, double TorchaudioFloat32Error);

    public static string Directory { get; } = FindDirectory();

    private static string FindDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "mfcc");
            if (File.Exists(Path.Combine(candidate, "manifest.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/mfcc/manifest.json not found above " + AppContext.BaseDirectory + "; run tools/parity/mfcc_golden.py.");
    }

    public static IReadOnlyList<Fixture> All()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "manifest.json")));
        var list = new List<Fixture>();
        foreach (JsonElement f in doc.RootElement.GetProperty("fixtures").EnumerateArray())
        {
            list.Add(new Fixture(
                f.GetProperty("name").GetString()!,
                ReadS16(f.GetProperty("signal").GetString()!),
                ReadF64(f.GetProperty("golden").GetString()!),
                f.GetProperty("frames").GetInt32(),
                f.GetProperty("coefficients").GetInt32(),
                f.GetProperty("config").GetString()!,
                f.GetProperty("feature_config_hash").GetString()!,
                f.GetProperty("torchaudio_float32_error").GetDouble()));
        }

        return list;
    }

    public static Fixture Get(string name) => All().Single(f => f.Name == name);

    public static short[] ReadS16(string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Directory, file));
        var s = new short[bytes.Length / 2];
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(2 * i));
        }

        return s;
    }

    private static double[] ReadF64(string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Directory, file));
        var f = new double[bytes.Length / 8];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8 * i));
        }

        return f;
    }

    /// <summary>Whole-signal features through the streaming API in one push.</summary>
    public static float[] Extract(MfccConfig config, ReadOnlySpan<short> signal)
    {
        var extractor = new MfccExtractor(config);
        var output = new float[config.FrameCount(signal.Length) * config.CoefficientCount];
        int frames = extractor.Push(signal, output);
        Assert.Equal(config.FrameCount(signal.Length), frames);
        return output;
    }

    /// <summary>Deterministic test audio (the same samples on every platform: seeded System.Random and
    /// DeterministicMath, not libm): speech fixture, noise and tones, repeated to any length.</summary>
    public static short[] MixedAudio(int samples, int seed = 7)
    {
        short[] speech = ReadS16("speech_hey_edge.s16");
        var rng = new Random(seed);
        var s = new short[samples];
        for (int i = 0; i < samples; i++)
        {
            double tone = 3000 * DeterministicMath.Sin(2 * Math.PI * (200 + (i / 16000 % 10) * 300) * i / 16000.0);
            double noise = (rng.NextDouble() - 0.5) * 2000;
            s[i] = (short)Math.Clamp(speech[i % speech.Length] + tone + noise, short.MinValue, short.MaxValue);
        }

        return s;
    }
}

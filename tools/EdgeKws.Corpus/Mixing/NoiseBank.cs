using System.Globalization;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Mixing;

/// <summary>Noise and tone sources for mixing. Names used in options and the manifest.</summary>
public static class NoiseKind
{
    /// <summary>No noise added.</summary>
    public const string None = "none";

    /// <summary>sox <c>synth whitenoise</c>.</summary>
    public const string White = "white";

    /// <summary>sox <c>synth pinknoise</c> (1/f).</summary>
    public const string Pink = "pink";

    /// <summary>sox <c>synth brownnoise</c> (1/f^2).</summary>
    public const string Brown = "brown";

    /// <summary>Several other speakers of the same split talking at once (from their synthesised words).</summary>
    public const string Babble = "babble";

    /// <summary>A television in the room: sentences of other voices through a small loudspeaker, often over music.</summary>
    public const string Tv = "tv";

    /// <summary>Synthetic music (<see cref="SyntheticSources.Music"/>).</summary>
    public const string Music = "music";

    /// <summary>A fan or air conditioner (<see cref="HomeNoise.Fan"/>).</summary>
    public const string Fan = "fan";

    /// <summary>A kitchen: water, clatter, a fridge (<see cref="HomeNoise.Kitchen"/>).</summary>
    public const string Kitchen = "kitchen";

    /// <summary>Mains hum (<see cref="SyntheticSources.Hum"/>).</summary>
    public const string Hum = SyntheticSources.Hum;

    /// <summary>Every kind accepted by <c>--noise</c>; the home kinds after babble need <c>--far-field</c>.</summary>
    public static IReadOnlyList<string> All { get; } = [None, White, Pink, Brown, Babble, Tv, Music, Fan, Kitchen, Hum];

    /// <summary>The kinds the original (close-talk) renderer supports.</summary>
    public static IReadOnlyList<string> CloseTalk { get; } = [None, White, Pink, Brown, Babble];

    /// <summary>Noise kinds of a far-field corpus by default: quiet rooms and the noises a home has.</summary>
    public static IReadOnlyList<string> FarFieldDefault { get; } = [None, Babble, Tv, Music, Fan, Kitchen, Hum, White, Pink, Brown];
}

/// <summary>
/// Noise beds and musical chords generated once per run with sox in repeatable mode (<c>sox -R</c>: same
/// bytes every run), normalised to unit RMS. Items take segments at seeded offsets, so noise differs per
/// item while the corpus stays deterministic.
/// </summary>
public sealed class NoiseBank
{
    /// <summary>Length of each noise bed.</summary>
    public const int BedSeconds = 30;

    /// <summary>Chord roots of the "music-like" tone clips (plucked major/minor triads, 1 s each).</summary>
    public static IReadOnlyList<string[]> Chords { get; } =
    [
        ["C4", "E4", "G4"], ["F3", "A3", "C4"], ["G3", "B3", "D4"], ["A3", "C4", "E4"], ["D4", "F4", "A4"], ["E3", "G3", "B3"],
    ];

    private readonly Dictionary<string, float[]> _beds = new(StringComparer.Ordinal);
    private readonly List<float[]> _chords = [];

    private NoiseBank()
    {
    }

    /// <summary>The unit-RMS chord clips.</summary>
    public IReadOnlyList<float[]> ChordClips => _chords;

    /// <summary>Runs sox to build the beds and chords in <paramref name="workDir"/>.</summary>
    public static async Task<NoiseBank> CreateAsync(string workDir, CancellationToken cancellationToken = default)
    {
        if (!ToolLocator.TryFind("sox", out _))
        {
            throw new InvalidOperationException("sox is not installed (Debian package 'sox'); it generates the noise beds and tones.");
        }

        Directory.CreateDirectory(workDir);
        var bank = new NoiseBank();
        string seconds = BedSeconds.ToString(CultureInfo.InvariantCulture);
        foreach ((string kind, string synth) in new[] { (NoiseKind.White, "whitenoise"), (NoiseKind.Pink, "pinknoise"), (NoiseKind.Brown, "brownnoise") })
        {
            string path = Path.Combine(workDir, $"noise-{kind}.wav");
            await ProcessRunner.RunAsync("sox", ["-R", "-n", "-r", "16000", "-c", "1", "-b", "32", "-e", "floating-point", path, "synth", seconds, synth], TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            bank._beds[kind] = LoadUnitRms(path);
        }

        for (int i = 0; i < Chords.Count; i++)
        {
            // pluck needs 44.1-48 kHz inside sox; one generator per input channel, then downmix and resample.
            string path = Path.Combine(workDir, $"chord-{i}.wav");
            string[] c = Chords[i];
            await ProcessRunner.RunAsync("sox", ["-R", "-c", "3", "-r", "48000", "-n", "-c", "1", "-r", "16000", "-b", "32", "-e", "floating-point", path,
                "synth", "1", "pluck", c[0], "pluck", c[1], "pluck", c[2], "fade", "0", "1", "0.3", "rate", "16000"], TimeSpan.FromMinutes(1), cancellationToken).ConfigureAwait(false);
            bank._chords.Add(LoadUnitRms(path));
        }

        return bank;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with unit-RMS noise of <paramref name="kind"/> (white, pink or brown)
    /// starting at bed offset <paramref name="offset"/> and wrapping round; returns the offset after it.
    /// </summary>
    public int Fill(string kind, Span<float> destination, int offset)
    {
        if (!_beds.TryGetValue(kind, out float[]? bed))
        {
            throw new ArgumentException($"'{kind}' is not a sox noise bed; use {NoiseKind.White}, {NoiseKind.Pink} or {NoiseKind.Brown}.", nameof(kind));
        }

        return FillFrom(bed, destination, offset);
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="bed"/> starting at <paramref name="offset"/>, wrapping round; returns the offset after it.</summary>
    public static int FillFrom(float[] bed, Span<float> destination, int offset)
    {
        offset %= bed.Length;
        int written = 0;
        while (written < destination.Length)
        {
            int n = Math.Min(bed.Length - offset, destination.Length - written);
            bed.AsSpan(offset, n).CopyTo(destination[written..]);
            written += n;
            offset = (offset + n) % bed.Length;
        }

        return offset;
    }

    /// <summary>A random starting offset into a bed.</summary>
    public static int RandomOffset(DeterministicRandom rng) => rng.Next(BedSeconds * 16_000);

    private static float[] LoadUnitRms(string path)
    {
        float[] x = WavFile.ReadAllMono(path, out WavFormat format);
        if (format.SampleRateHz != 16_000)
        {
            throw new InvalidOperationException($"sox wrote {format.SampleRateHz} Hz to '{path}', expected 16000.");
        }

        File.Delete(path);
        double rms = Math.Sqrt(SnrMixer.MeanSquare(x));
        SnrMixer.Scale(x, 1.0 / rms);
        return x;
    }
}

using EdgeKws.Corpus.Manifest;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Tests;

/// <summary>
/// Train and validation negative streams (non-speech training negatives, threshold choice) and the validation
/// positive stream: generated next to the small preset of <see cref="SmallCorpusFixture"/> with the same seed.
/// </summary>
[Collection(SmallCorpusCollection.Name)]
public sealed class TrainingStreams_Tests(SmallCorpusFixture corpus) : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgekws-corpus-tests-" + Guid.NewGuid().ToString("N"));
    private CorpusManifest _m = null!;

    public async Task InitializeAsync() => _m = await CorpusGenerator.GenerateAsync(corpus.Options with
    {
        OutputDirectory = _root,
        TrainNegativeStreamMinutes = 3,
        ValidationNegativeStreamMinutes = 1,
        ValidationPositiveStreamKeywords = 5,
    });

    public Task DisposeAsync()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        return Task.CompletedTask;
    }

    [Fact]
    public void Adding_train_and_validation_streams_leaves_the_test_streams_byte_identical()
    {
        var test = corpus.Manifest.Files.Where(f => f.Kind is FileKind.NegativeStream or FileKind.PositiveStream).Select(f => f.Path).ToList();
        Assert.Equal(2, test.Count);
        foreach (string path in test)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(corpus.Root, path)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(_root, path))), $"{path} changed");
        }
    }

    [Fact]
    public void Each_split_gets_its_streams_with_its_own_speakers_only()
    {
        var splitOf = _m.Speakers.ToDictionary(s => s.Id, s => s.Split);
        CorpusFile train = Assert.Single(_m.Files, f => f.Kind == FileKind.NegativeStream && f.Split == CorpusSplit.Train);
        CorpusFile validation = Assert.Single(_m.Files, f => f.Kind == FileKind.NegativeStream && f.Split == CorpusSplit.Validation);
        CorpusFile positive = Assert.Single(_m.Files, f => f.Kind == FileKind.PositiveStream && f.Split == CorpusSplit.Validation);
        Assert.Equal("train/streams/negative-000.wav", train.Path);
        Assert.Equal((long)Math.Round(3.0 * 60 * 16_000), train.SampleCount);
        Assert.Equal((long)Math.Round(1.0 * 60 * 16_000), validation.SampleCount);
        Assert.Equal(5, positive.KeywordEvents.Count);
        foreach (CorpusFile f in new[] { train, validation, positive })
        {
            Assert.StartsWith(f.Split + "/streams/", f.Path, StringComparison.Ordinal);
            var speakers = f.Words.Select(w => w.Speaker).Concat(f.KeywordEvents.Select(e => e.Speaker)).Concat(f.Segments!.Select(s => s.Speaker)).OfType<string>().ToList();
            Assert.NotEmpty(speakers);
            Assert.All(speakers, s => Assert.Equal(f.Split, splitOf[s]));
        }

        Assert.Empty(train.KeywordEvents);
        Assert.Empty(validation.KeywordEvents);
        var words = train.Words.Concat(validation.Words).Select(w => w.Word).SelectMany(SentenceBank.Words).ToList();
        Assert.All(_m.Options.Keywords, k => Assert.False(SentenceBank.Contains(words, SentenceBank.Words(k)), $"keyword '{k}' in a negative stream"));
    }

    [Fact]
    public void Train_stream_holds_music_noise_babble_and_silence_at_their_stated_levels()
    {
        CorpusFile train = Assert.Single(_m.Files, f => f.Kind == FileKind.NegativeStream && f.Split == CorpusSplit.Train);
        var kinds = train.Segments!.Select(s => s.Kind).ToHashSet();
        Assert.Superset(new HashSet<string> { "speech", "music", "noise", "babble", "silence" }, kinds);
        Assert.DoesNotContain("tones", kinds); // the test stream's sox chords never appear in training audio
        float[] x = WavFile.ReadAllMono(Path.Combine(_root, train.Path), out _);
        foreach (StreamSegment s in train.Segments!.Where(s => s.Kind is "music" or "noise" && s.EndMs - s.StartMs >= 1000))
        {
            int a = (int)Math.Round(s.StartMs * 16) + 800, b = (int)Math.Round(s.EndMs * 16) - 800; // inside the fades
            double db = 10 * Math.Log10(SnrMixer.MeanSquare(x.AsSpan(a, b - a)));
            // Whole-segment level; the inner part of a fading/decaying sound can sit a little off it, and the -60 dBFS floor adds a little.
            Assert.InRange(db, s.LevelDbFs!.Value - 4, s.LevelDbFs!.Value + 3);
        }
    }

    [Fact]
    public void Synthetic_sources_have_unit_rms_repeat_for_a_seed_and_differ_between_seeds()
    {
        foreach (string kind in SyntheticSources.NoiseKinds)
        {
            float[] a = SyntheticSources.Noise(kind, 16_000, DeterministicRandom.For(1, kind));
            float[] b = SyntheticSources.Noise(kind, 16_000, DeterministicRandom.For(1, kind));
            float[] c = SyntheticSources.Noise(kind, 16_000, DeterministicRandom.For(2, kind));
            Assert.Equal(1.0, Math.Sqrt(SnrMixer.MeanSquare(a)), 3);
            Assert.Equal(a, b);
            Assert.NotEqual(a, c);
        }

        float[] m1 = SyntheticSources.Music(48_000, DeterministicRandom.For(1, "music"));
        Assert.Equal(1.0, Math.Sqrt(SnrMixer.MeanSquare(m1)), 3);
        Assert.Equal(m1, SyntheticSources.Music(48_000, DeterministicRandom.For(1, "music")));
        Assert.NotEqual(m1, SyntheticSources.Music(48_000, DeterministicRandom.For(2, "music")));
        var e = Assert.Throws<ArgumentException>(() => SyntheticSources.Noise("rain", 10, DeterministicRandom.For(1, "x")));
        Assert.Contains("'rain' is not a synthetic noise kind", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stream_options_parse_and_bad_values_are_refused()
    {
        CorpusOptions o = CorpusCommandLine.Parse(["generate", "--out", "x", "--small", "--train-negatives-minutes", "30", "--validation-negatives-minutes", "12.5", "--validation-positives", "40"]);
        Assert.Equal(30, o.TrainNegativeStreamMinutes);
        Assert.Equal(12.5, o.ValidationNegativeStreamMinutes);
        Assert.Equal(40, o.ValidationPositiveStreamKeywords);
        var e = Assert.Throws<ArgumentException>(() => CorpusCommandLine.Parse(["generate", "--out", "x", "--train-negatives-minutes", "-1"]));
        Assert.Contains("--train-negatives-minutes must be 0 to 600", e.Message, StringComparison.Ordinal);
    }
}

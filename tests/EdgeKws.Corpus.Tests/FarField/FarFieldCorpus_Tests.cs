using EdgeKws.Acoustics;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Tests.FarField;

/// <summary>
/// A small far-field corpus with every voice set, real engines and real sox: what each transform did is measured on
/// the written files (SNR at the microphone, peak level, reverberation), not only that it ran.
/// </summary>
public sealed class FarFieldCorpus_Tests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "edgekws-farfield-tests-" + Guid.NewGuid().ToString("N"));
    private CorpusManifest _m = null!;

    private CorpusOptions Options => CorpusOptions.Small(_root, seed: 5) with
    {
        VoiceSet = VoiceSet.All,
        FarField = true,
        RoomsPerSplit = 6,
        DryFraction = 0.2,
        NoiseKinds = NoiseKind.FarFieldDefault,
        SpeakerCount = 10,
        WriteCleanReference = true,
        ClipFraction = 0,
        NegativeStreamMinutes = 1.5,
        PositiveStreamKeywords = 12,
        TrainNegativeStreamMinutes = 1,
        HeldOutNearMisses = ["allege", "hey edward"],
    };

    public async Task InitializeAsync() => _m = await CorpusGenerator.GenerateAsync(Options);

    public Task DisposeAsync()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        return Task.CompletedTask;
    }

    private static float[] Read(string path) => WavFile.ReadAllMono(path, out _);

    [Fact]
    public void Noisy_far_field_clips_measure_their_set_snr_at_the_microphone_within_half_a_dB()
    {
        var noisy = _m.Files.Where(f => f.CleanPath is not null && f.SnrDb is not null).ToList();
        Assert.True(noisy.Count >= 20, $"only {noisy.Count} noisy clips");
        foreach (CorpusFile f in noisy)
        {
            float[] mix = Read(Path.Combine(_root, f.Path));
            float[] clean = Read(Path.Combine(_root, f.CleanPath!));
            double s = 0, v = 0;
            foreach (WordInterval w in f.Words)
            {
                for (int i = (int)(w.StartMs * 16); i < (int)(w.EndMs * 16); i++)
                {
                    s += (double)clean[i] * clean[i];
                    double n = mix[i] - clean[i];
                    v += n * n;
                }
            }

            double measured = 10 * Math.Log10(s / v);
            Assert.True(Math.Abs(measured - f.SnrDb!.Value) <= 0.5, $"{f.Path}: set {f.SnrDb} dB, measured {measured:0.00} dB");
        }
    }

    [Fact]
    public void Far_field_clips_peak_at_their_drawn_level_within_the_option_range()
    {
        var clips = _m.Files.Where(f => f.Kind is FileKind.Keyword or FileKind.NearMiss or FileKind.Sentence).ToList();
        Assert.NotEmpty(clips);
        foreach (CorpusFile f in clips)
        {
            Assert.NotNull(f.LevelDbFs);
            Assert.InRange(f.LevelDbFs!.Value, Options.LevelDbFsMin, Options.LevelDbFsMax);
            float[] mix = Read(Path.Combine(_root, f.Path));
            double peakDb = 20 * Math.Log10(SnrMixer.Peak(mix));
            // 16-bit rounding moves a -40 dBFS peak by at most 0.003 dB.
            Assert.True(Math.Abs(peakDb - f.LevelDbFs.Value) <= 0.05, $"{f.Path}: level {f.LevelDbFs} dBFS, peak {peakDb:0.000}");
        }

        double spread = clips.Max(f => f.LevelDbFs!.Value) - clips.Min(f => f.LevelDbFs!.Value);
        Assert.True(spread >= 20, $"levels span only {spread:0.0} dB");
    }

    [Fact]
    public void Reverberant_clips_carry_energy_after_the_last_word_that_dry_clips_do_not()
    {
        // The clean reference (speech after room and microphone, before noise) of a reverberant clip rings on after its last
        // word; a dry one is silent there (word-by-word synthesis is exactly zero outside the word intervals).
        var withClean = _m.Files.Where(f => f.CleanPath is not null && f.Room is not null).ToList();
        var wet = withClean.Where(f => f.RoomClass != "dry").ToList();
        var dry = withClean.Where(f => f.RoomClass == "dry" && f.Microphone == MicrophoneResponse.Flat.Name).ToList();
        Assert.NotEmpty(wet);
        foreach (CorpusFile f in wet)
        {
            float[] clean = Read(Path.Combine(_root, f.CleanPath!));
            int end = (int)(f.Words[^1].EndMs * 16);
            double after = TailEnergyRatioDb(clean, end);
            Assert.True(after > -60, $"{f.Path} ({f.Room}): energy in the 50 ms after the last word is {after:0.0} dB below the speech");
        }

        foreach (CorpusFile f in dry)
        {
            float[] clean = Read(Path.Combine(_root, f.CleanPath!));
            Assert.True(TailEnergyRatioDb(clean, (int)(f.Words[^1].EndMs * 16)) < -90, $"{f.Path}: dry clip rings after its last word");
        }
    }

    private static double TailEnergyRatioDb(float[] x, int end)
    {
        double speech = 0, tail = 0;
        for (int i = 0; i < end; i++)
        {
            speech += (double)x[i] * x[i];
        }

        for (int i = end + 16; i < Math.Min(x.Length, end + 800); i++)
        {
            tail += (double)x[i] * x[i];
        }

        return 10 * Math.Log10(Math.Max(tail, 1e-30) / (speech / end * 784));
    }

    [Fact]
    public void Every_split_has_its_own_rooms_and_keyword_events_say_room_microphone_and_noise()
    {
        var roomsBySplit = _m.Files.Where(f => f.Room is not null && f.Room != "dry").GroupBy(f => f.Split)
            .ToDictionary(g => g.Key, g => g.Select(f => f.Room!).ToHashSet());
        Assert.True(roomsBySplit.Count >= 2);
        foreach (var (split, rooms) in roomsBySplit)
        {
            Assert.All(rooms, r => Assert.StartsWith(split + "/", r, StringComparison.Ordinal));
        }

        CorpusFile positive = Assert.Single(_m.Files, f => f.Kind == FileKind.PositiveStream && f.Split == CorpusSplit.Test);
        Assert.Equal(12, positive.KeywordEvents.Count);
        Assert.All(positive.KeywordEvents, e =>
        {
            Assert.NotNull(e.Room);
            Assert.NotNull(e.Microphone);
            Assert.NotNull(e.Noise);
        });
        Assert.True(positive.KeywordEvents.Count(e => e.Keyword == "hey edge") >= 6, "the wake phrase should dominate far-field positive streams");
    }

    [Fact]
    public void Held_out_near_misses_are_said_in_the_test_stream_and_never_in_training_audio()
    {
        var heldOut = Options.HeldOutNearMisses.ToHashSet();
        CorpusFile test = Assert.Single(_m.Files, f => f.Kind == FileKind.NegativeStream && f.Split == CorpusSplit.Test);
        Assert.Contains(test.Segments!, s => s.Kind == "near-miss" && heldOut.Contains(s.Transcript!));
        foreach (CorpusFile f in _m.Files.Where(f => f.Split == CorpusSplit.Train))
        {
            Assert.DoesNotContain(f.Words, w => heldOut.Contains(w.Word));
            Assert.DoesNotContain(f.Segments ?? [], s => s.Transcript is not null && heldOut.Contains(s.Transcript));
        }
    }

    [Fact]
    public void Negative_streams_hold_the_kinds_of_sound_a_home_has_and_the_test_stream_never_its_words_as_keywords()
    {
        CorpusFile test = Assert.Single(_m.Files, f => f.Kind == FileKind.NegativeStream && f.Split == CorpusSplit.Test);
        var kinds = test.Segments!.Select(s => s.Kind).ToHashSet();
        foreach (string k in new[] { "speech", "near-miss", "tv" })
        {
            Assert.Contains(k, kinds);
        }

        Assert.Empty(test.KeywordEvents);
        Assert.Contains(test.Segments!, s => s.Room is not null && s.Room != "dry");
    }

    [Fact]
    public void All_voices_give_flite_and_festival_several_talkers_by_rate_and_sox_pitch()
    {
        var speakers = SpeakerCatalog.Choose(42, 400, SpeakerCatalog.AvailableEngines(), VoiceSet.All);
        var flite = speakers.Where(s => s.Engine == TtsEngine.Flite).ToList();
        Assert.True(flite.Count >= 50, $"{flite.Count} flite speakers");
        Assert.Contains(flite, s => s.PitchPercent != 100);
        Assert.True(flite.Select(s => s.Voice).Distinct().Count() == SpeakerCatalog.AllFliteVoices.Count);
        Assert.True(speakers.Where(s => s.Engine == TtsEngine.Espeak).Select(s => s.Variant).Distinct().Count() > 50);
        Assert.DoesNotContain(speakers, s => SpeakerCatalog.NonHumanEspeakVariants.Contains(s.Variant));
    }

    [Fact]
    public async Task Same_seed_gives_the_same_far_field_manifest()
    {
        string again = _root + "-again";
        try
        {
            await CorpusGenerator.GenerateAsync(Options with { OutputDirectory = again });
            Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "manifest.json")), File.ReadAllBytes(Path.Combine(again, "manifest.json")));
            CorpusFile p = _m.Files.First(f => f.Kind == FileKind.PositiveStream);
            Assert.Equal(File.ReadAllBytes(Path.Combine(_root, p.Path)), File.ReadAllBytes(Path.Combine(again, p.Path)));
        }
        finally
        {
            if (Directory.Exists(again))
            {
                Directory.Delete(again, recursive: true);
            }
        }
    }
}

using EdgeKws.Corpus.Manifest;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Tests;

[Collection(SmallCorpusCollection.Name)]
public sealed class CorpusGenerator_Tests(SmallCorpusFixture corpus)
{
    private static int Sample(double ms) => (int)Math.Round(ms * 16);

    [Fact]
    public void Small_preset_lists_every_file_and_each_reads_as_16kHz_mono_of_its_manifest_duration()
    {
        CorpusManifest m = CorpusManifest.Load(Path.Combine(corpus.Root, "manifest.json"));
        Assert.Equal(CorpusGenerator.Version, m.GeneratorVersion);
        Assert.Equal(corpus.Manifest.Files.Count, m.Files.Count);
        foreach (string kind in new[] { FileKind.Keyword, FileKind.NearMiss, FileKind.Sentence, FileKind.NegativeStream, FileKind.PositiveStream })
        {
            Assert.Contains(m.Files, f => f.Kind == kind);
        }

        foreach (CorpusFile f in m.Files)
        {
            using var reader = new WavReader(Path.Combine(corpus.Root, f.Path));
            Assert.Equal(16_000, reader.Format.SampleRateHz);
            Assert.Equal(1, reader.Format.Channels);
            Assert.Equal(16, reader.Format.BitsPerSample);
            Assert.Equal(f.SampleCount, reader.Format.FrameCount);
            Assert.Equal(f.SampleCount / 16.0, f.DurationMs);
            Assert.True(File.Exists(Path.ChangeExtension(Path.Combine(corpus.Root, f.Path), ".json")), f.Path);
            Assert.True(File.Exists(Path.ChangeExtension(Path.Combine(corpus.Root, f.Path), ".ctm")), f.Path);
            foreach (WordInterval w in f.Words)
            {
                Assert.InRange(w.StartMs, 0, w.EndMs);
                Assert.InRange(w.EndMs, w.StartMs, f.DurationMs);
            }

            for (int i = 1; i < f.Words.Count; i++)
            {
                Assert.True(f.Words[i].StartMs >= f.Words[i - 1].EndMs, $"{f.Path}: word {i} overlaps the previous one");
            }
        }

        Assert.Equal(m.Files.Sum(f => f.DurationMs) / 1000, m.Summary.Sum(r => r.DurationSeconds), 2);
    }

    [Fact]
    public void No_voice_appears_in_two_splits_and_streams_use_test_speakers_only()
    {
        CorpusManifest m = corpus.Manifest;
        Assert.All(m.Speakers.GroupBy(s => s.VoiceKey), g => Assert.Single(g.Select(s => s.Split).Distinct()));
        foreach (string split in new[] { CorpusSplit.Train, CorpusSplit.Validation, CorpusSplit.Test })
        {
            Assert.Contains(m.Speakers, s => s.Split == split);
        }

        var splitOf = m.Speakers.ToDictionary(s => s.Id, s => s.Split);
        foreach (CorpusFile f in m.Files)
        {
            if (f.Speaker is not null)
            {
                Assert.Equal(splitOf[f.Speaker], f.Split);
                Assert.StartsWith(f.Split + "/", f.Path, StringComparison.Ordinal);
            }

            foreach (string s in f.Words.Select(w => w.Speaker).Concat(f.KeywordEvents.Select(e => e.Speaker)).OfType<string>())
            {
                Assert.Equal(f.Split, splitOf[s]);
            }
        }

        Assert.All(m.Files.Where(f => f.Kind is FileKind.NegativeStream or FileKind.PositiveStream), f => Assert.Equal(CorpusSplit.Test, f.Split));
    }

    [Fact]
    public void Clean_references_are_silent_exactly_outside_the_word_intervals()
    {
        var noisy = corpus.Manifest.Files.Where(f => f.CleanPath is not null).ToList();
        Assert.NotEmpty(noisy);
        Assert.Contains(noisy, f => f.Kind == FileKind.Sentence);
        foreach (CorpusFile f in noisy)
        {
            float[] clean = WavFile.ReadAllMono(Path.Combine(corpus.Root, f.CleanPath!), out _);
            int at = 0;
            foreach (WordInterval w in f.Words)
            {
                int s = Sample(w.StartMs);
                int e = Sample(w.EndMs);
                Assert.All(clean[at..s], x => Assert.Equal(0f, x));
                Assert.NotEqual(0f, clean[s]);
                Assert.NotEqual(0f, clean[e - 1]);
                at = e;
            }

            Assert.All(clean[at..], x => Assert.Equal(0f, x));
        }
    }

    [Fact]
    public void Noisy_clips_measure_their_set_snr_within_half_a_dB_on_the_written_files()
    {
        var noisy = corpus.Manifest.Files.Where(f => f.CleanPath is not null && !f.Clipped).ToList();
        Assert.True(noisy.Count >= 10, $"only {noisy.Count} noisy clips");
        Assert.Contains(noisy, f => f.Noise == NoiseKind.Babble);
        foreach (CorpusFile f in noisy)
        {
            float[] clean = WavFile.ReadAllMono(Path.Combine(corpus.Root, f.CleanPath!), out _);
            float[] mixed = WavFile.ReadAllMono(Path.Combine(corpus.Root, f.Path), out _);
            var speech = f.Words.Select(w => new SampleInterval(Sample(w.StartMs), Sample(w.EndMs))).ToList();
            double measured = SnrMixer.MeasureSnrDb(clean, mixed, speech);
            Assert.True(Math.Abs(measured - f.SnrDb!.Value) <= 0.5, $"{f.Path}: set {f.SnrDb} dB, measured {measured:0.00} dB");
        }
    }

    [Fact]
    public void Clipping_variants_are_saturated_and_the_others_stay_under_full_scale()
    {
        Assert.Contains(corpus.Manifest.Files, f => f.Clipped);
        foreach (CorpusFile f in corpus.Manifest.Files.Where(f => f.Kind is not (FileKind.NegativeStream or FileKind.PositiveStream)))
        {
            float peak = SnrMixer.Peak(WavFile.ReadAllMono(Path.Combine(corpus.Root, f.Path), out _));
            if (f.Clipped)
            {
                Assert.True(peak >= 32767f / 32768f, $"{f.Path} claims clipping but peaks at {peak}");
            }
            else
            {
                Assert.True(peak < 0.99f, $"{f.Path} peaks at {peak} without being a clipping variant");
            }
        }
    }

    [Fact]
    public void Positive_stream_keywords_carry_energy_at_their_times_and_the_gaps_between_are_quiet()
    {
        CorpusFile stream = Assert.Single(corpus.Manifest.Files, f => f.Kind == FileKind.PositiveStream);
        Assert.Equal(corpus.Options.PositiveStreamKeywords, stream.KeywordEvents.Count);
        float[] x = WavFile.ReadAllMono(Path.Combine(corpus.Root, stream.Path), out _);
        int gapStart = 0;
        foreach (KeywordEvent e in stream.KeywordEvents)
        {
            int s = Sample(e.StartMs);
            int end = Sample(e.EndMs);
            double gapDb = 10 * Math.Log10(SnrMixer.MeanSquare(x.AsSpan(gapStart, s - gapStart)));
            double kwDb = 10 * Math.Log10(SnrMixer.MeanSquare(x.AsSpan(s, end - s)));
            Assert.InRange(gapDb, CorpusGenerator.PositiveStreamFloorDbFs - 1, CorpusGenerator.PositiveStreamFloorDbFs + 1);
            Assert.True(kwDb - gapDb >= e.SnrDb!.Value - 1, $"keyword at {e.StartMs} ms: {kwDb:0.0} dBFS vs gap {gapDb:0.0} dBFS, set SNR {e.SnrDb} dB");
            gapStart = end;
        }
    }

    [Fact]
    public void Negative_stream_has_its_length_and_no_keyword_in_any_transcript()
    {
        CorpusFile stream = Assert.Single(corpus.Manifest.Files, f => f.Kind == FileKind.NegativeStream);
        Assert.Equal((long)Math.Round(corpus.Options.NegativeStreamMinutes * 60 * 16_000), stream.SampleCount);
        Assert.Empty(stream.KeywordEvents);
        Assert.NotNull(stream.Segments);
        Assert.Contains(stream.Segments!, s => s.Kind == "speech");
        var words = stream.Words.Select(w => w.Word).ToList();
        foreach (string k in corpus.Options.Keywords)
        {
            Assert.False(SentenceBank.Contains(words.SelectMany(SentenceBank.Words).ToList(), SentenceBank.Words(k)), $"keyword '{k}' in the negative stream");
        }
    }

    [Fact]
    public void Keyword_events_of_sentences_span_exactly_the_keyword_words()
    {
        var sentences = corpus.Manifest.Files.Where(f => f.Kind == FileKind.Sentence && f.Keyword is not null).ToList();
        Assert.NotEmpty(sentences);
        foreach (CorpusFile f in sentences)
        {
            KeywordEvent e = Assert.Single(f.KeywordEvents);
            string[] kw = SentenceBank.Words(f.Keyword!);
            int first = f.Words.ToList().FindIndex(w => w.StartMs == e.StartMs);
            Assert.True(first >= 0, f.Path);
            Assert.Equal(kw, f.Words.Skip(first).Take(kw.Length).Select(w => w.Word));
            Assert.Equal(e.EndMs, f.Words[first + kw.Length - 1].EndMs);
        }

        Assert.All(corpus.Manifest.Files.Where(f => f.Kind is FileKind.NearMiss || (f.Kind == FileKind.Sentence && f.Keyword is null)), f => Assert.Empty(f.KeywordEvents));
    }

    [Fact]
    public async Task Same_seed_and_options_give_byte_identical_files_even_with_one_engine_process()
    {
        string other = Path.Combine(Path.GetTempPath(), "edgekws-corpus-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            await CorpusGenerator.GenerateAsync(corpus.Options with { OutputDirectory = other, MaxParallelSynthesis = 1 });
            var a = Directory.GetFiles(corpus.Root, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(corpus.Root, p)).Order(StringComparer.Ordinal).ToList();
            var b = Directory.GetFiles(other, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(other, p)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(a, b);
            Assert.Contains("manifest.json", a);
            foreach (string rel in a)
            {
                Assert.True(File.ReadAllBytes(Path.Combine(corpus.Root, rel)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(other, rel))), $"{rel} differs");
            }
        }
        finally
        {
            if (Directory.Exists(other))
            {
                Directory.Delete(other, recursive: true);
            }
        }
    }
}

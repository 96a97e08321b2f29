using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Alignment;
using Xunit.Abstractions;

namespace EdgeKws.Labeling.Tests.Alignment;

/// <summary>The real pocketsphinx_continuous (Debian pocketsphinx 0.8) against the corpus generator's exact word times.</summary>
[Collection(SmallCorpusCollection.Name)]
public sealed class PocketSphinxAligner_Tests(SmallCorpusFixture corpus, ITestOutputHelper output)
{
    [Fact]
    public async Task Aligns_clean_sentences_within_stated_boundary_error()
    {
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync();
        var clean = new BoundaryAccuracy.Builder();
        var mixed = new BoundaryAccuracy.Builder();
        foreach (CorpusFile f in corpus.Manifest.Files.Where(f => f.Kind == FileKind.Sentence))
        {
            WordSpan[] truth = [.. f.Words.Select(w => new WordSpan(w.Word, w.StartMs, w.EndMs))];
            AlignmentResult m = await aligner.AlignAsync(Path.Combine(corpus.Root, f.Path), f.Transcript);
            mixed.Add(truth, m.Succeeded ? m.Words : null);
            AlignmentResult c = await aligner.AlignAsync(Path.Combine(corpus.Root, f.CleanPath ?? f.Path), f.Transcript);
            clean.Add(truth, c.Succeeded ? c.Words : null);
            Assert.All(c.Words, w => Assert.InRange(w.Confidence!.Value, 0, 1));
            Assert.StartsWith("pocketsphinx 0.8", c.Source.Tool);
        }

        BoundaryAccuracy cleanFigures = clean.Build(), mixedFigures = mixed.Build();
        output.WriteLine("clean: " + cleanFigures);
        output.WriteLine("mixed (noise 0-30 dB SNR, gain -20..+6 dB): " + mixedFigures);
        Console.WriteLine("alignment accuracy, clean: " + cleanFigures);
        Console.WriteLine("alignment accuracy, mixed: " + mixedFigures);

        // Stated bounds (docs/labeling.md). Clean: every sentence aligns, median <= 30 ms, p90 <= 250 ms,
        // at least 40 % of words within 50 ms at both ends (the reference end includes the synthesis's
        // decaying tail, which the aligner leaves out: ends are mostly early). Mixed (0-30 dB SNR): at
        // most a quarter of sentences fail, median <= 60 ms.
        Assert.Equal(0, cleanFigures.UtterancesFailed);
        Assert.True(cleanFigures.Words >= 50, $"only {cleanFigures.Words} words");
        Assert.InRange(cleanFigures.MedianErrorMs, 0, 30);
        Assert.InRange(cleanFigures.P90ErrorMs, 0, 250);
        Assert.InRange(cleanFigures.ShareWithin50Ms, 0.4, 1);
        Assert.InRange(mixedFigures.UtterancesFailed, 0, mixedFigures.Utterances / 4);
        Assert.InRange(mixedFigures.MedianErrorMs, 0, 60);
    }

    [Fact]
    public async Task Gives_custom_words_an_espeak_pronunciation_and_aligns_them()
    {
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync();
        Assert.False(aligner.Lexicon.Contains("edgekws"));
        Pronunciation p = await aligner.Lexicon.GetAsync("edgekws");
        Assert.Equal(PronunciationMethod.EspeakLetterToSound, p.Method);
        Assert.StartsWith("EH JH", p.Variants[0]);

        using var dir = new TempDir();
        string wav = dir.File("custom.wav");
        // espeak-ng speaks "hello edgekws" at 22.05 kHz: also exercises the conversion to 16 kHz.
        await EdgeKws.Corpus.ProcessRunner.RunAsync("espeak-ng", ["-v", "en-us", "-w", wav, "hello edgekws"], TimeSpan.FromSeconds(120));
        AlignmentResult r = await aligner.AlignAsync(wav, "Hello, EdgeKWS!");
        Assert.True(r.Succeeded, r.Problem);
        Assert.Equal(["hello", "edgekws"], r.Words.Select(w => w.Word));
        Assert.True(r.Words[1].StartMs >= r.Words[0].EndMs);
        Assert.Contains(r.Pronunciations, x => x.Word == "edgekws" && x.Method == PronunciationMethod.EspeakLetterToSound);
    }

    [Fact]
    public void Maps_ipa_to_arpabet_and_refuses_unknown_symbols()
    {
        Assert.True(PronunciationLexicon.TryMapIpa("tʃˈɜːtʃ", out string church));
        Assert.Equal("CH ER CH", church);
        Assert.True(PronunciationLexicon.TryMapIpa("ˈɛd‍ʒɛkwəz", out string custom));
        Assert.Equal("EH JH EH K W AH Z", custom);
        Assert.False(PronunciationLexicon.TryMapIpa("ʘ", out _));
    }

    [Fact]
    public async Task Is_less_confident_in_a_wrong_transcript_than_the_right_one()
    {
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync();
        int better = 0, total = 0;
        foreach (CorpusFile f in corpus.Manifest.Files.Where(f => f.Kind == FileKind.Sentence && f.CleanPath is not null).Take(6))
        {
            string wav = Path.Combine(corpus.Root, f.CleanPath!);
            AlignmentResult right = await aligner.AlignAsync(wav, f.Transcript);
            AlignmentResult wrong = await aligner.AlignAsync(wav, "play some music by the river now");
            total++;
            if (right.Confidence > wrong.Confidence)
            {
                better++;
            }
        }

        Assert.True(total >= 4);
        Assert.True(better >= total - 1, $"right transcript more confident in {better} of {total}");
    }
}

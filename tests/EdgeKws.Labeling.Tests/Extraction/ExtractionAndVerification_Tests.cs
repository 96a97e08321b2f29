using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Review;
using EdgeKws.Shared.Audio;
using Xunit.Abstractions;

namespace EdgeKws.Labeling.Tests.Extraction;

[Collection(SmallCorpusCollection.Name)]
public sealed class ExtractionAndVerification_Tests(SmallCorpusFixture corpus, ITestOutputHelper output)
{
    [Fact]
    public async Task Extracts_keyword_clips_from_sentences_and_queues_every_non_accepted_one()
    {
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync();
        using var dir = new TempDirectory();
        using var queue = new SqliteReviewQueue(Path.Combine(dir.Path, "review.db"));
        var pipeline = new KeywordExtractionPipeline(aligner, new KeywordClipExtractor(), queue, Path.Combine(dir.Path, "clips"));
        TranscribedRecording[] sentences = [.. corpus.Manifest.Files.Where(f => f.Kind == FileKind.Sentence)
            .Select(f => new TranscribedRecording(Path.Combine(corpus.Root, f.Path), f.Path, f.Transcript))];
        ExtractionCounts counts = await pipeline.RunAsync(sentences, corpus.Manifest.Options.Keywords);
        output.WriteLine(counts.ToString());
        Console.WriteLine("extraction: " + counts);

        int expectedOccurrences = corpus.Manifest.Files.Where(f => f.Kind == FileKind.Sentence).Sum(f => f.KeywordEvents.Count);
        Assert.Equal(expectedOccurrences, counts.KeywordOccurrences);
        Assert.True(counts.Accepted > 0);
        Assert.Equal(counts.KeywordOccurrences, counts.Accepted + counts.Review + counts.Rejected + UnalignedOccurrences());
        Assert.Equal(counts.Review + counts.Rejected + counts.NotAligned, queue.Pending(1000).Count);
        Assert.All(queue.Pending(1000), i => Assert.False(string.IsNullOrWhiteSpace(i.Reason)));
        // Every accepted clip is a 1 s, 16 kHz file whose keyword midpoint is within 100 ms of the truth.
        foreach (ExtractedClip c in pipeline.AcceptedClips)
        {
            CorpusFile f = corpus.Manifest.Files.Single(x => x.Path == c.SourceRecording);
            KeywordEvent truth = f.KeywordEvents.Single(k => k.Keyword == c.Word.Word);
            Assert.InRange(c.Word.MidMs - ((truth.StartMs + truth.EndMs) / 2), -100, 100);
            Assert.Equal(16_000, c.Samples.Length);
        }

        string[] written = Directory.GetFiles(Path.Combine(dir.Path, "clips", "accepted"), "*.wav", SearchOption.AllDirectories);
        Assert.Equal(counts.Accepted, written.Length);
        WavFile.ReadAllMono(written[0], out WavFormat format);
        Assert.Equal((16_000, 16_000L), (format.SampleRateHz, format.FrameCount));

        int UnalignedOccurrences() => queue.Pending(1000).Where(i => i.ItemKey.EndsWith("#unaligned", StringComparison.Ordinal)).Sum(i => i.ProposedLabel.Split(',').Length);
    }

    [Fact]
    public async Task Labels_wake_phrase_clips_true_accepts_and_other_clips_false_accepts_or_review()
    {
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync();
        var verifier = new TriggerVerifier(aligner, corpus.Manifest.Options.Keywords[0]);
        var wake = new List<TriggerVerdict>();
        var other = new List<TriggerVerdict>();
        foreach (CorpusFile f in corpus.Manifest.Files.Where(f => f.Kind is FileKind.Keyword or FileKind.NearMiss && !f.Clipped && (f.SnrDb is null || f.SnrDb >= 15)))
        {
            TriggerVerdict v = await verifier.VerifyAsync(Path.Combine(corpus.Root, f.Path));
            (f.Keyword == verifier.WakePhrase ? wake : other).Add(v);
            output.WriteLine($"{f.Path} [{f.Transcript}] -> {v.Label} {v.Confidence:0.00}");
        }

        // Pure noise: nothing to align.
        using var dir = new TempDirectory();
        string noise = dir.File("noise.wav");
        float[] n = new float[16_000];
        var rng = new Random(5);
        for (int i = 0; i < n.Length; i++)
        {
            n[i] = (float)(rng.NextDouble() - 0.5) * 0.05f;
        }

        WavFile.Write(noise, n, 16_000, WavSampleFormat.Pcm16);
        TriggerVerdict noiseVerdict = await verifier.VerifyAsync(noise);

        double wakeTrue = wake.Count(v => v.Label == TriggerLabel.TrueAccept) / (double)wake.Count;
        double otherTrue = other.Count(v => v.Label == TriggerLabel.TrueAccept) / (double)other.Count;
        string summary = $"wake-phrase clips: {wake.Count}, true accept {wakeTrue:P0}; other clips: {other.Count}, labelled true accept {otherTrue:P0}, false accept {other.Count(v => v.Label == TriggerLabel.FalseAccept)}, review {other.Count(v => v.Label == TriggerLabel.NeedsReview)}; noise -> {noiseVerdict.Label}";
        output.WriteLine(summary);
        Console.WriteLine("verification: " + summary);
        Assert.NotEqual(TriggerLabel.TrueAccept, noiseVerdict.Label);
        Assert.True(wake.Count >= 3);
        Assert.True(wakeTrue > otherTrue, summary);
        Assert.True(wakeTrue >= 0.5, summary);
    }
}

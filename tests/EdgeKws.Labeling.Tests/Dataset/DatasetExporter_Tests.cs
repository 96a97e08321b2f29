using System.Diagnostics;
using System.Text.Json;
using EdgeKws.Dataset;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Shared.Features;

namespace EdgeKws.Labeling.Tests.Dataset;

[Collection(SmallCorpusCollection.Name)]
public sealed class DatasetExporter_Tests(SmallCorpusFixture corpus)
{
    private static string Python(string script)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using Process p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        return stdout.Trim();
    }

    [Fact]
    public void Exports_the_small_corpus_in_the_dataset_format_readable_by_numpy()
    {
        using var dir = new TempDirectory();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = DatasetCommand.Run(["export", "--corpus", corpus.Root, "--out", dir.Path, "--keyword", "hey edge"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Contains("leakage check: passed", stdout.ToString());

        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "dataset.json")));
        JsonElement m = manifest.RootElement;
        Assert.Equal("edgekws-dataset/1", m.GetProperty("formatVersion").GetString());
        Assert.Equal(MfccConfig.Default.FeatureConfigHash, m.GetProperty("featureConfigHash").GetString());
        Assert.Equal(98, m.GetProperty("windowFrames").GetInt32());
        Assert.Equal(["_background_", "hey edge"], m.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));

        // numpy reads every split with the declared shape and dtype; counts match dataset.json and the lineage.
        string report = Python($$"""
            import json, numpy as np
            d = r'{{dir.Path}}'
            m = json.load(open(d + '/dataset.json'))
            out = []
            for s, info in m['splits'].items():
                f = np.load(d + '/' + s + '.features.npy'); l = np.load(d + '/' + s + '.labels.npy')
                lines = open(d + '/' + s + '.lineage.jsonl').read().splitlines()
                assert f.shape == (info['count'], 98, 13) and f.dtype == np.float32, (f.shape, f.dtype)
                assert l.shape == (info['count'],) and l.dtype == np.int64
                assert len(lines) == info['count'] and all(json.loads(x)['label'] == int(y) for x, y in zip(lines, l))
                assert np.isfinite(f).all()
                out.append('%s:%d:%d' % (s, info['count'], int((l == 1).sum())))
            print(' '.join(out))
            """);
        Assert.Matches(@"^train:\d+:[1-9]\d* validation:\d+:[1-9]\d* test:\d+:[1-9]\d*$", report);

        // The features are exactly MfccExtractor(MfccConfig.Default) over the 1 s window: recompute row 0 of train.
        string first = File.ReadLines(Path.Combine(dir.Path, "train.lineage.jsonl")).First();
        using JsonDocument line = JsonDocument.Parse(first);
        string wav = Path.Combine(corpus.Root, line.RootElement.GetProperty("sourceRecording").GetString()!);
        double startMs = line.RootElement.GetProperty("startMs").GetDouble();
        float[] audio = KeywordExtractionPipeline.ReadMono16k(wav);
        float[] window = new float[16_000];
        int start = (int)Math.Round(startMs * 16);
        for (int i = 0; i < window.Length; i++)
        {
            int k = start + i;
            window[i] = k >= 0 && k < audio.Length ? audio[k] : 0f;
        }

        float[] expected = new float[98 * 13];
        Assert.Equal(98, new MfccExtractor(MfccConfig.Default).Push(window, expected));
        byte[] npy = File.ReadAllBytes(Path.Combine(dir.Path, "train.features.npy"));
        int headerLength = BitConverter.ToUInt16(npy, 8);
        float[] actual = new float[98 * 13];
        Buffer.BlockCopy(npy, 10 + headerLength, actual, 0, actual.Length * 4);
        Assert.Equal(expected, actual);
        Assert.Equal(0, (10 + headerLength) % 64);
    }

    [Fact]
    public void Refuses_to_write_and_names_a_planted_speaker_leak()
    {
        using var dir = new TempDirectory();
        IReadOnlyList<DatasetExample> examples = CorpusDatasetBuilder.Build(corpus.Root, corpus.Manifest, ["hey edge"], out IReadOnlyList<string> classes);
        Assert.Empty(LeakageCheck.Find(examples));

        // Plant: one train speaker's near-miss clip moved into test.
        DatasetExample victim = examples.First(e => e.Split == "train" && e.ClipId.Contains("near-miss", StringComparison.Ordinal));
        DatasetExample[] leaky = [.. examples.Select(e => e == victim ? e with { Split = "test" } : e)];
        var ex = Assert.Throws<DatasetLeakageException>(() => new DatasetExporter().Export(leaky, classes, dir.Path, [], "planted"));
        Leak leak = Assert.Single(ex.Leaks);
        Assert.Equal(("speaker", victim.Speaker), (leak.Kind, leak.Value));
        Assert.Equal(["test", "train"], leak.Splits);
        Assert.Contains(victim.Speaker!, ex.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Catches_a_source_recording_and_an_augmented_twin_across_splits()
    {
        var src = new LabelSource(LabelKinds.Generator, "t");
        DatasetExample[] examples =
        [
            new("a", "train", "hey edge", "s1", "rec1.wav", "/x/rec1.wav", 0, src),
            new("b", "test", "_background_", "s2", "rec1.wav", "/x/rec1.wav", 2000, src),
            new("c", "train", "hey edge", "s3", "rec3.wav", "/x/rec3.wav", 0, src),
            new("c-aug", "validation", "hey edge", "s4", "rec4.wav", "/x/rec4.wav", 0, src, AugmentedFrom: "c"),
        ];
        IReadOnlyList<Leak> leaks = LeakageCheck.Find(examples);
        Assert.Equal(["sourceRecording:rec1.wav", "augmentedFrom:c"], leaks.Select(l => l.Kind + ":" + l.Value));
    }

    [Fact]
    public void Keyword_end_margin_ends_every_phrase_window_that_long_after_the_phrase_whatever_its_duration()
    {
        IReadOnlyList<DatasetExample> centred = CorpusDatasetBuilder.Build(corpus.Root, corpus.Manifest, ["hey edge"], out _);
        IReadOnlyList<DatasetExample> ended = CorpusDatasetBuilder.Build(corpus.Root, corpus.Manifest, ["hey edge"], out _, keywordEndMarginMs: 150);
        Assert.Equal(centred.Select(e => e.ClipId), ended.Select(e => e.ClipId));

        var files = corpus.Manifest.Files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        var durations = new HashSet<double>();
        int keywords = 0, nearMisses = 0;
        foreach (DatasetExample e in ended)
        {
            Corpus.Manifest.CorpusFile f = files[e.SourceRecording];
            if (f.Kind == Corpus.Manifest.FileKind.Keyword)
            {
                Corpus.Manifest.KeywordEvent k = f.KeywordEvents[0];
                Assert.Equal(Math.Round(k.EndMs + 150), e.StartMs + 1000);      // the window ends 150 ms after the keyword
                durations.Add(Math.Round(k.EndMs - k.StartMs));
                keywords++;
            }
            else if (f.Kind == Corpus.Manifest.FileKind.NearMiss)
            {
                Assert.Equal(Math.Round(f.SpeechEndMs!.Value + 150), e.StartMs + 1000);
                nearMisses++;
            }
        }

        Assert.True(keywords > 10 && nearMisses > 5, $"{keywords} keyword and {nearMisses} near-miss windows");
        Assert.True(durations.Count > 3, "keywords of several durations, so the rule is tested against duration");
        // Centred windows of keywords of different durations end at different distances after the keyword.
        var centredEnds = centred.Where(e => files[e.SourceRecording].Kind == Corpus.Manifest.FileKind.Keyword)
            .Select(e => e.StartMs + 1000 - Math.Round(files[e.SourceRecording].KeywordEvents[0].EndMs)).Distinct().Count();
        Assert.True(centredEnds > 3);
        // Stream windows do not depend on the margin.
        Assert.Equal(centred.Where(e => e.ClipId.Contains('@') && !e.ClipId.Contains('#')).Select(e => e.StartMs),
            ended.Where(e => e.ClipId.Contains('@') && !e.ClipId.Contains('#')).Select(e => e.StartMs));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("501")]
    [InlineData("abc")]
    public void Cli_refuses_a_keyword_end_margin_outside_0_to_500_ms(string margin)
    {
        var stderr = new StringWriter();
        int code = DatasetCommand.Run(["export", "--corpus", corpus.Root, "--out", "/nonexistent/x", "--keyword-end-margin-ms", margin], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains("--keyword-end-margin-ms", stderr.ToString());
    }

    [Fact]
    public void A_time_split_of_one_device_checks_clips_and_recordings_not_speakers()
    {
        var src = new LabelSource(LabelKinds.Review, "review", null, "rita");
        FieldLineage Field(string clip, int minute) =>
            new("dev-1", new DateTimeOffset(2026, 11, 20, 8, minute, 0, TimeSpan.Zero), FieldClipKinds.NearMiss, "kws-1", 0.6, "audio", minute, clip);
        DatasetExample[] examples =
        [
            new("dev-1/a", "train", "hey edge", "device:dev-1", "dev-1/a", "/x/a.wav", 0, src, Field: Field("a", 1)),
            new("dev-1/b", "test", "_background_", "device:dev-1", "dev-1/b", "/x/b.wav", 0, src, Field: Field("b", 2)),
        ];
        // The same device in train and test is the point of a time split: a leak for the speaker-independent check only.
        Assert.Equal(["speaker:device:dev-1"], LeakageCheck.Find(examples).Select(l => l.Kind + ":" + l.Value));
        Assert.Empty(LeakageCheck.Find(examples, LeakageCheck.ByRecording));
        // Two windows of one uploaded clip, or two clips of one recording, in two splits are leaks.
        DatasetExample twoWindows = examples[1] with { ClipId = "dev-1/a#2", SourceRecording = "dev-1/a", Field = Field("a", 2) };
        Assert.Equal(["clip:dev-1/a", "sourceRecording:dev-1/a"], LeakageCheck.Find([examples[0], twoWindows], LeakageCheck.ByRecording).Select(l => l.Kind + ":" + l.Value));
        Assert.Throws<ArgumentException>(() => LeakageCheck.Find(examples, ["voice"]));
    }

    [Fact]
    public void Device_features_of_the_wrong_shape_are_refused_before_anything_is_written()
    {
        using var dir = new TempDirectory();
        var src = new LabelSource(LabelKinds.Aligner, "t", 0.9);
        DatasetExample e = new("dev-1/a", "train", "hey edge", "device:dev-1", "dev-1/a", string.Empty, 0, src, Features: new float[97 * 13]);
        var ex = Assert.Throws<ArgumentException>(() => new DatasetExporter().Export([e], ["hey edge"], dir.Path, [], "t"));
        Assert.Contains("1261 feature values; a window is 98 x 13", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Cli_names_a_missing_manifest()
    {
        using var dir = new TempDirectory();
        var stderr = new StringWriter();
        Assert.Equal(1, DatasetCommand.Run(["export", "--corpus", dir.Path, "--out", Path.Combine(dir.Path, "o")], TextWriter.Null, stderr));
        Assert.Contains("manifest.json", stderr.ToString());
        Assert.Equal(2, DatasetCommand.Run(["export", "--corpus"], TextWriter.Null, TextWriter.Null));
    }
}

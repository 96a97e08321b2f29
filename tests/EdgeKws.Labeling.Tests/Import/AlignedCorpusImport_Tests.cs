using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Dataset;
using EdgeKws.Labeling.Import;
using EdgeKws.Labeling.Review;
using Xunit.Abstractions;

namespace EdgeKws.Labeling.Tests.Import;

/// <summary>
/// <c>edgekws-dataset import</c> on an aligned corpus built from the generator's small preset: every sentence's clean
/// reference as audio (speaker directories, MFA layout) and its exact word times written as a long TextGrid (the
/// generator's own sidecar), a short-format CRLF TextGrid, one Kaldi CTM holding several utterances, a CSV table, a JSON
/// table, and one malformed CTM.
/// </summary>
[Collection(SmallCorpusCollection.Name)]
public sealed class AlignedCorpusImport_Tests(SmallCorpusFixture corpus, ITestOutputHelper output)
{

    private sealed record Fixture(string Alignments, string Audio, List<CorpusFile> Imported, CorpusFile Broken, Dictionary<string, string> UtteranceOf);

    [Fact]
    public void Imports_every_format_cuts_the_expected_clips_and_names_the_malformed_file_and_line()
    {
        using var dir = new TempDirectory();
        Fixture fx = Build(dir);
        string outDir = Path.Combine(dir.Path, "out");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        // Keywords: the wake phrase, one the corpus never says, and three consecutive words of a sentence that take more
        // than the 1 s clip (so the duration filter rejects them: the review queue's path).
        string[] keywords = ["hey edge", "stop", LongPhrase(fx.Imported)];
        int code = DatasetCommand.Run(["import", "--alignments", fx.Alignments, "--audio", fx.Audio, "--out", outDir,
            "--keyword", keywords[0], "--keyword", keywords[1], "--keyword", keywords[2]], stdout, stderr);
        string text = stdout.ToString();
        output.WriteLine(text);
        Assert.True(code == 0, stderr.ToString() + text);

        // The report: formats counted, the malformed file named with its line, the import went on.
        Assert.Contains("alignment files: 10 (csv 1, ctm 2, json 1, textgrid 6); malformed (skipped): 1", text);
        Assert.Contains("malformed: broken.ctm:3: start '0.x9' is not a number.", text);
        Assert.Contains($"utterances: {fx.Imported.Count} read, {fx.Imported.Count} cut, 0 skipped", text);
        Assert.Equal(text.TrimEnd().Split('\n')[..^1].Select(l => l.TrimEnd('\r')), File.ReadAllLines(Path.Combine(outDir, "import-report.txt")));

        // Expected clips, from the generator's exact truth: every keyword occurrence of the imported sentences gives a
        // clip; on clean speech the only filter that can fail is duration (word-by-word "play music" can exceed 1 s).
        var occurrences = fx.Imported.SelectMany(f => Occurrences(f, keywords).Select(k => (File: f, Event: k))).ToList();
        Assert.True(occurrences.Count >= 5, $"only {occurrences.Count} keyword occurrences in the fixture");
        Assert.Contains(occurrences, o => o.Event.EndMs - o.Event.StartMs > 1000);
        var accepted = occurrences.Where(o => o.Event.EndMs - o.Event.StartMs is >= 150 and <= 1000).ToList();
        int tooLong = occurrences.Count - accepted.Count;
        Assert.Contains($"keyword occurrences: {occurrences.Count} ", text);
        Assert.Contains($"keyword clips: {accepted.Count} accepted, 0 to review, {tooLong} rejected (queued with the reason)", text);

        // The dataset: each positive is centred on its keyword's exact interval, in its speaker's one split.
        List<JsonElement> lineage = [.. new[] { "train", "validation", "test" }
            .Select(s => Path.Combine(outDir, s + ".lineage.jsonl")).Where(File.Exists)
            .SelectMany(File.ReadAllLines).Select(l => JsonDocument.Parse(l).RootElement)];
        List<JsonElement> positives = [.. lineage.Where(l => l.GetProperty("label").GetInt32() > 0)];
        Assert.Equal(accepted.Count, positives.Count);
        foreach ((CorpusFile f, KeywordEvent k) in accepted)
        {
            string recording = f.Speaker + "/" + fx.UtteranceOf[f.Path] + ".wav";
            JsonElement p = Assert.Single(positives, p => p.GetProperty("sourceRecording").GetString() == recording && p.GetProperty("labelName").GetString() == k.Keyword);
            Assert.InRange(p.GetProperty("startMs").GetDouble() + 500 - ((k.StartMs + k.EndMs) / 2), -0.07, 0.07);
            Assert.Equal(f.Speaker, p.GetProperty("speaker").GetString());
            Assert.Equal("import", p.GetProperty("labelSource").GetProperty("kind").GetString());
        }

        // Background windows: from non-keyword words, at most 2 per recording, none overlapping a keyword occurrence.
        List<JsonElement> negatives = [.. lineage.Where(l => l.GetProperty("label").GetInt32() == 0)];
        Assert.InRange(negatives.Count, fx.Imported.Count / 2, 2 * fx.Imported.Count);
        foreach (JsonElement n in negatives)
        {
            CorpusFile f = fx.Imported.Single(x => x.Speaker + "/" + fx.UtteranceOf[x.Path] + ".wav" == n.GetProperty("sourceRecording").GetString());
            double start = n.GetProperty("startMs").GetDouble();
            Assert.DoesNotContain(Occurrences(f, keywords), k => k.StartMs < start + 1000 && k.EndMs > start);
        }

        // Splits: speaker-disjoint, all three used (8 speakers), the leakage check recorded.
        var splitsBySpeaker = lineage.GroupBy(l => l.GetProperty("speaker").GetString()).ToDictionary(g => g.Key!, g => g.Select(l => l.GetProperty("split").GetString()).Distinct().ToList());
        Assert.All(splitsBySpeaker.Values, s => Assert.Single(s));
        Assert.Equal(3, splitsBySpeaker.Values.Select(s => s[0]).Distinct().Count());
        using (JsonDocument ds = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "dataset.json"))))
        {
            Assert.True(ds.RootElement.GetProperty("leakageCheck").GetProperty("passed").GetBoolean());
            Assert.Equal(["_background_", .. keywords], ds.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        }

        // The review queue holds exactly the rejected clips, each with its reason and the alignment file it came from.
        using var queue = new SqliteReviewQueue(Path.Combine(outDir, "review.db"));
        IReadOnlyList<ReviewItem> pending = queue.Pending(1000);
        Assert.Equal(tooLong, pending.Count);
        Assert.All(pending, i => Assert.Matches(@"^rejected: word lasts \d+ ms, over the 1000 ms maximum .*\(alignment .+\)$", i.Reason));
        Assert.All(pending, i => Assert.True(File.Exists(i.ClipPath), i.ClipPath));

        // Nothing of the malformed file was imported.
        Assert.DoesNotContain(lineage, l => l.GetProperty("sourceRecording").GetString()!.Contains(fx.UtteranceOf[fx.Broken.Path], StringComparison.Ordinal));
    }

    [Fact]
    public void Takes_speakers_from_a_map_file_and_reports_utterances_it_cannot_pair()
    {
        using var dir = new TempDirectory();
        Fixture fx = Build(dir);
        // Two speakers by the map (alternating), so one is held out for test and the other trains.
        var map = new StringBuilder("utterance,speaker\n");
        int i = 0;
        foreach (string utt in fx.Imported.Select(f => fx.UtteranceOf[f.Path]))
        {
            map.Append(utt).Append(',').Append(i++ % 2 == 0 ? "alice" : "bob").Append('\n');
        }

        string mapPath = dir.File("speakers.csv", map.ToString());
        File.WriteAllText(Path.Combine(fx.Alignments, "orphan.ctm"), "no-such-utterance 1 0.10 0.30 stop\n");
        string outDir = Path.Combine(dir.Path, "out");
        var stdout = new StringWriter();
        int code = DatasetCommand.Run(["import", "--alignments", fx.Alignments, "--audio", fx.Audio, "--out", outDir, "--keyword", "hey edge",
            "--speaker-from", "map", "--speaker-map", mapPath], stdout, new StringWriter());
        string text = stdout.ToString();
        Assert.True(code == 0, text);
        Assert.Contains("skipped: orphan.ctm: utterance 'no-such-utterance': no audio file 'no-such-utterance.wav' under the audio directory", text);
        Assert.Contains("speakers: train 1, validation 0, test 1", text);
        var speakers = new[] { "train", "test" }.SelectMany(s => File.ReadAllLines(Path.Combine(outDir, s + ".lineage.jsonl")))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("speaker").GetString()).Distinct().Order().ToList();
        Assert.Equal(["alice", "bob"], speakers);
    }

    // Every occurrence of a keyword in the sentence's exact words (as consecutive words).
    private static IEnumerable<KeywordEvent> Occurrences(CorpusFile f, string[] keywords)
    {
        for (int i = 0; i < f.Words.Count; i++)
        {
            foreach (string k in keywords)
            {
                string[] p = k.Split(' ');
                if (i + p.Length <= f.Words.Count && p.SequenceEqual(f.Words.Skip(i).Take(p.Length).Select(w => w.Word)))
                {
                    yield return new KeywordEvent(k, f.Words[i].StartMs, f.Words[i + p.Length - 1].EndMs, f.Speaker!);
                }
            }
        }
    }

    // Three consecutive words, none of the wake phrase, spanning more than 1 s.
    private static string LongPhrase(IEnumerable<CorpusFile> sentences) => sentences
        .SelectMany(f => Enumerable.Range(0, Math.Max(0, f.Words.Count - 2)).Select(i => f.Words.Skip(i).Take(3).ToList()))
        .First(w => w[2].EndMs - w[0].StartMs > 1000 && !w.Any(x => x.Word is "hey" or "edge"))
        .Aggregate("", (a, w) => (a + " " + w.Word).Trim());

    // Writes the aligned corpus: audio/<speaker>/<utterance>.wav and alignments in five formats plus one broken file.
    private Fixture Build(TempDirectory dir)
    {
        string alignments = Path.Combine(dir.Path, "alignments"), audio = Path.Combine(dir.Path, "audio");
        // Clean references only (no clipping, no noise) so the filters' outcome follows from the exact word times alone.
        List<CorpusFile> sentences = [.. corpus.Manifest.Files.Where(f => f.Kind == FileKind.Sentence && f.CleanPath is not null && !f.Clipped)
            .OrderByDescending(f => f.KeywordEvents.Count).ThenBy(f => f.Path, StringComparer.Ordinal).Take(12)];
        Assert.True(sentences.Count == 12, $"the small corpus has {sentences.Count} usable sentences");
        var utteranceOf = sentences.ToDictionary(f => f.Path, f => f.Speaker + "-" + Path.GetFileNameWithoutExtension(f.Path), StringComparer.Ordinal);
        foreach (CorpusFile f in sentences)
        {
            string wav = Path.Combine(audio, f.Speaker!, utteranceOf[f.Path] + ".wav");
            Directory.CreateDirectory(Path.GetDirectoryName(wav)!);
            File.Copy(Path.Combine(corpus.Root, f.CleanPath!), wav);
        }

        // 0-3: the generator's long TextGrid sidecar, in the speaker's directory (MFA mirrors the corpus layout).
        for (int i = 0; i < 4; i++)
        {
            CorpusFile f = sentences[i];
            string target = Path.Combine(alignments, f.Speaker!, utteranceOf[f.Path] + ".TextGrid");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(corpus.Root, Path.ChangeExtension(f.Path, ".TextGrid")), target);
        }

        // 4-5: short text format with CRLF line ends.
        for (int i = 4; i < 6; i++)
        {
            File.WriteAllText(Path.Combine(alignments, utteranceOf[sentences[i].Path] + ".TextGrid"), ShortTextGrid(sentences[i]).Replace("\n", "\r\n"));
        }

        // 6-7: one CTM with two utterances (Kaldi writes one file per data set).
        File.WriteAllText(Path.Combine(alignments, "batch.ctm"), string.Concat(sentences[6..8].SelectMany(f => f.Words.Select(w =>
            string.Create(CultureInfo.InvariantCulture, $"{utteranceOf[f.Path]} 1 {w.StartMs / 1000:0.######} {(w.EndMs - w.StartMs) / 1000:0.######} {w.Word.Replace(' ', '_')}\n")))));

        // 8-9: a CSV table in seconds with an utterance column.
        File.WriteAllText(Path.Combine(alignments, "table.csv"), "utterance,word,start,end\n" + string.Concat(sentences[8..10].SelectMany(f => f.Words.Select(w =>
            string.Create(CultureInfo.InvariantCulture, $"{utteranceOf[f.Path]},\"{w.Word}\",{w.StartMs / 1000:0.######},{w.EndMs / 1000:0.######}\n")))));

        // 10: a JSON word table named after its utterance.
        CorpusFile j = sentences[10];
        File.WriteAllText(Path.Combine(alignments, utteranceOf[j.Path] + ".json"), JsonSerializer.Serialize(
            j.Words.Select(w => new Dictionary<string, object> { ["word"] = w.Word, ["startMs"] = w.StartMs, ["endMs"] = w.EndMs })));

        // 11: malformed: a bad number on line 3 of a CTM.
        CorpusFile broken = sentences[11];
        string u = utteranceOf[broken.Path];
        File.WriteAllText(Path.Combine(alignments, "broken.ctm"), $";; exported by hand\n{u} 1 0.30 0.20 {broken.Words[0].Word}\n{u} 1 0.x9 0.20 {broken.Words[1].Word}\n");
        return new Fixture(alignments, audio, sentences[..11], broken, utteranceOf);
    }

    // Praat's short text format: the long format's values without labels; pauses as empty intervals.
    private static string ShortTextGrid(CorpusFile f)
    {
        var items = new List<(double S, double E, string T)>();
        double at = 0;
        foreach (WordInterval w in f.Words)
        {
            if (w.StartMs > at)
            {
                items.Add((at, w.StartMs, ""));
            }

            items.Add((w.StartMs, w.EndMs, w.Word));
            at = w.EndMs;
        }

        if (f.DurationMs > at)
        {
            items.Add((at, f.DurationMs, ""));
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n0\n{f.DurationMs / 1000}\n<exists>\n1\n\"IntervalTier\"\n\"words\"\n0\n{f.DurationMs / 1000}\n{items.Count}\n");
        foreach ((double s, double e, string t) in items)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{s / 1000}\n{e / 1000}\n\"{t}\"\n");
        }

        return sb.ToString();
    }
}

using EdgeKws.Corpus;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Dataset;

namespace EdgeKws.Dataset;

/// <summary>
/// Turns a generated corpus (its manifest and exact ground truth) into dataset examples:
/// positives are keyword takes and keyword occurrences in sentences (1 s centred on the keyword, or ending a fixed margin
/// after it: see <see cref="Build"/>'s keywordEndMarginMs); negatives (class 0) are near-misses, other keywords, single
/// non-keyword words of keyword-free sentences (placed the same way), and seeded random 1 s windows of the negative streams.
/// Splits are the corpus's speaker-independent ones.
/// </summary>
/// <remarks>
/// Why end alignment exists: a centred window puts a short keyword's end (980 - duration) / 2 ms before the window end, so a
/// model trained on centred windows fires that long after the keyword ends (a 450 ms "hey edge": ~260 ms, measured on
/// hey-edge-1.3.0's validation streams, docs/model-loop.md "Latency"). Ending every phrase window the same margin after the
/// phrase makes the model's preferred position independent of the phrase's duration. Near misses and single words are
/// placed the same way, so the position of speech in the window is no cue for the class.
/// </remarks>
public static class CorpusDatasetBuilder
{
    /// <summary>The split rule written into dataset.json.</summary>
    public const string SplitRule = "speaker-independent: each voice in exactly one split (corpus manifest speakers[].split)";

    /// <summary>Builds the examples. <paramref name="keywords"/> null means every corpus keyword.</summary>
    /// <param name="corpusRoot">The corpus directory.</param>
    /// <param name="manifest">Its manifest.</param>
    /// <param name="keywords">Keyword classes; null = every corpus keyword (the others become background).</param>
    /// <param name="classes">The keyword classes used.</param>
    /// <param name="streamWindowsPerMinute">Random 1 s windows per minute of negative stream.</param>
    /// <param name="trainStreamWindowsPerMinute">Rate for train-split negative streams (training negatives); null = <paramref name="streamWindowsPerMinute"/>.</param>
    /// <param name="keywordEndMarginMs">Null: phrase windows are centred on the phrase. Otherwise each phrase window (keyword,
    /// near miss, single word) ends this many milliseconds after the phrase ends.</param>
    /// <exception cref="ArgumentException">A requested keyword is not in the corpus, or the margin is outside 0..500 ms.</exception>
    public static IReadOnlyList<DatasetExample> Build(string corpusRoot, CorpusManifest manifest, IReadOnlyList<string>? keywords, out IReadOnlyList<string> classes, int streamWindowsPerMinute = 20, int? trainStreamWindowsPerMinute = null, double? keywordEndMarginMs = null)
    {
        if (keywordEndMarginMs is < 0 or > 500)
        {
            throw new ArgumentException($"The keyword end margin must be 0..500 ms, got {keywordEndMarginMs}.", nameof(keywordEndMarginMs));
        }

        classes = keywords ?? manifest.Options.Keywords;
        foreach (string k in classes)
        {
            if (!manifest.Options.Keywords.Contains(k))
            {
                throw new ArgumentException($"Keyword '{k}' is not in the corpus; it has: {string.Join(", ", manifest.Options.Keywords)}.");
            }
        }

        var source = new LabelSource(LabelKinds.Generator, "edgekws-corpus " + manifest.GeneratorVersion, 1.0);
        var examples = new List<DatasetExample>();
        IReadOnlyList<string> cls = classes;
        foreach (CorpusFile f in manifest.Files)
        {
            string wav = Path.Combine(corpusRoot, f.Path);
            switch (f.Kind)
            {
                case FileKind.Keyword:
                    {
                        KeywordEvent k = f.KeywordEvents[0];
                        // Takes of one keyword by one speaker are augmented variants of take 0.
                        string take0 = System.Text.RegularExpressions.Regex.Replace(f.Path, @"-\d+\.wav$", "-0.wav");
                        examples.Add(Placed(f, wav, f.Path, k.StartMs, k.EndMs, cls.Contains(k.Keyword) ? k.Keyword : DatasetExporter.BackgroundClass, source, take0 == f.Path ? null : take0));
                        break;
                    }

                case FileKind.NearMiss:
                    examples.Add(Placed(f, wav, f.Path, f.SpeechStartMs ?? 0, f.SpeechEndMs ?? f.DurationMs, DatasetExporter.BackgroundClass, source, null));
                    break;

                case FileKind.Sentence when f.KeywordEvents.Count > 0:
                    foreach (KeywordEvent k in f.KeywordEvents)
                    {
                        examples.Add(Placed(f, wav, $"{f.Path}#{k.Keyword.Replace(' ', '_')}@{k.StartMs:0}", k.StartMs, k.EndMs, cls.Contains(k.Keyword) ? k.Keyword : DatasetExporter.BackgroundClass, source, null));
                    }

                    break;

                case FileKind.Sentence:
                    // Two single-word windows per keyword-free sentence: first and middle word.
                    foreach (int i in new[] { 0, f.Words.Count / 2 }.Distinct())
                    {
                        WordInterval w = f.Words[i];
                        examples.Add(Placed(f, wav, $"{f.Path}#{w.Word}@{w.StartMs:0}", w.StartMs, w.EndMs, DatasetExporter.BackgroundClass, source, null));
                    }

                    break;

                case FileKind.NegativeStream:
                    {
                        DeterministicRandom rng = DeterministicRandom.For(manifest.Options.Seed, "dataset-negative-windows/" + f.Path);
                        int perMinute = f.Split == CorpusSplit.Train ? trainStreamWindowsPerMinute ?? streamWindowsPerMinute : streamWindowsPerMinute;
                        int n = (int)Math.Ceiling(f.DurationMs / 60_000 * perMinute);
                        // Whole-millisecond starts; a start drawn twice is drawn again (dense train rates make that likely).
                        var taken = new HashSet<double>();
                        n = (int)Math.Min(n, Math.Max(0, Math.Floor(f.DurationMs - 1000)));
                        while (taken.Count < n)
                        {
                            double start = Math.Floor(rng.NextDouble() * (f.DurationMs - 1000));
                            if (taken.Add(start))
                            {
                                examples.Add(new DatasetExample($"{f.Path}@{start:0}", f.Split, DatasetExporter.BackgroundClass, null, f.Path, wav, start, source));
                            }
                        }

                        break;
                    }
            }
        }

        return examples;

        // One placement rule for every phrase window (see the remarks on the type).
        DatasetExample Placed(CorpusFile f, string wav, string clipId, double startMs, double endMs, string label, LabelSource source, string? augmentedFrom) =>
            new(clipId, f.Split, label, f.Speaker, f.Path, wav, WindowStartMs(startMs, endMs, keywordEndMarginMs), source, augmentedFrom);
    }

    /// <summary>Start of the 1 s window for a phrase over [startMs, endMs]: centred, or ending <paramref name="endMarginMs"/> after it.</summary>
    public static double WindowStartMs(double startMs, double endMs, double? endMarginMs) =>
        endMarginMs is double m ? Math.Round(endMs + m) - 1000 : Math.Round((startMs + endMs) / 2) - 500;

    /// <summary>
    /// Leave-one-engine-out: the examples without any train-split audio of <paramref name="engine"/>'s voices (its clips,
    /// and train negative-stream windows overlapping a segment said by one of them). Validation and test are unchanged,
    /// so an evaluation then measures the model on an engine it never heard.
    /// </summary>
    /// <exception cref="ArgumentException">The corpus has no speaker of that engine.</exception>
    public static IReadOnlyList<DatasetExample> WithoutEngineInTraining(IReadOnlyList<DatasetExample> examples, CorpusManifest manifest, string engine)
    {
        var excluded = manifest.Speakers.Where(s => s.Engine == engine).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        if (excluded.Count == 0)
        {
            throw new ArgumentException($"The corpus has no {engine} speaker; engines: {string.Join(", ", manifest.Speakers.Select(s => s.Engine).Distinct())}.");
        }

        var streams = manifest.Files.Where(f => f.Kind == FileKind.NegativeStream && f.Split == CorpusSplit.Train)
            .ToDictionary(f => f.Path, f => (f.Segments ?? []).Where(s => s.Speaker is not null && excluded.Contains(s.Speaker)).ToList(), StringComparer.Ordinal);
        return [.. examples.Where(e => e.Split != CorpusSplit.Train || !(
            (e.Speaker is not null && excluded.Contains(e.Speaker)) ||
            (streams.TryGetValue(e.SourceRecording, out var segs) && segs.Any(s => s.StartMs < e.StartMs + 1000 && s.EndMs > e.StartMs))))];
    }
}

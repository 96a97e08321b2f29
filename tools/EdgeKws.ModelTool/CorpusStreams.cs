using EdgeKws.Corpus.Speakers;
using EdgeKws.Corpus.Manifest;
using EdgeKws.ModelLoop.Evaluation;

namespace EdgeKws.ModelTool;

/// <summary>
/// The evaluation streams of a generated corpus: the negative and positive streams of one split, by default
/// the test split (held-out speakers). Validation streams serve to choose a threshold; train streams are
/// training data. Streams of other splits are skipped.
/// </summary>
public static class CorpusStreams
{
    /// <summary>Reads <c>DIR/manifest.json</c>; the test split's streams.</summary>
    public static IReadOnlyList<EvaluationStream> Load(string corpusDirectory, out string description) =>
        Load(corpusDirectory, CorpusSplit.Test, out description);

    /// <summary>Reads <c>DIR/manifest.json</c>; refuses a corpus without streams in <paramref name="split"/> or with a keyword by a speaker of another split.</summary>
    public static IReadOnlyList<EvaluationStream> Load(string corpusDirectory, string split, out string description)
    {
        if (split is not (CorpusSplit.Test or CorpusSplit.Validation or CorpusSplit.Train))
            throw new ArgumentException($"split must be test, validation or train, got '{split}'");
        string manifestPath = Path.Combine(corpusDirectory, "manifest.json");
        if (!File.Exists(manifestPath))
            throw new FileNotFoundException($"'{manifestPath}' not found; --corpus must be a directory written by edgekws-corpus");
        var manifest = CorpusManifest.Load(manifestPath);
        var testSpeakers = manifest.Speakers.Where(s => s.Split == split).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var streams = new List<EvaluationStream>();
        foreach (var f in manifest.Files)
        {
            if (f.Kind is not (FileKind.NegativeStream or FileKind.PositiveStream)) continue;
            if (f.Split != split) continue;
            foreach (var e in f.KeywordEvents)
            {
                if (!testSpeakers.Contains(e.Speaker))
                    throw new InvalidDataException($"stream {f.Path} has a keyword by {e.Speaker}, who is not a {split} speaker");
            }
            bool negative = f.Kind == FileKind.NegativeStream;
            if (negative && f.KeywordEvents.Count > 0)
                throw new InvalidDataException($"negative stream {f.Path} lists {f.KeywordEvents.Count} keyword events");
            streams.Add(new EvaluationStream(f.Path, Path.Combine(corpusDirectory, f.Path),
                negative ? EvaluationStreamKind.Negative : EvaluationStreamKind.Positive, f.DurationMs,
                [.. f.KeywordEvents.Select(e => new StreamPhrase(e.Keyword, e.StartMs, e.EndMs))]));
        }
        if (streams.Count == 0)
            throw new InvalidDataException(split == CorpusSplit.Test
                ? $"corpus {corpusDirectory} has no evaluation streams; generate it with --negatives-minutes and --positives"
                : $"corpus {corpusDirectory} has no {split} streams; generate it with --{split}-negatives-minutes (and --validation-positives)");
        var o = manifest.Options;
        description = split == CorpusSplit.Test
            ? $"edgekws-corpus {manifest.GeneratorVersion} seed {o.Seed}, {manifest.Speakers.Count} speakers ({testSpeakers.Count} test), "
              + $"{o.NegativeStreamMinutes} negative minutes, {o.PositiveStreamKeywords} positives, SNR {{{string.Join(",", o.SnrDbChoices)}}} dB"
            : $"edgekws-corpus {manifest.GeneratorVersion} seed {o.Seed}, {manifest.Speakers.Count} speakers ({testSpeakers.Count} {split}), {split} streams: "
              + $"{streams.Where(x => x.Kind == EvaluationStreamKind.Negative).Sum(x => x.DurationMs) / 60_000:0.##} negative minutes, "
              + $"{streams.Sum(x => x.Phrases.Count)} positives, SNR {{{string.Join(",", o.SnrDbChoices)}}} dB";
        return streams;
    }
}

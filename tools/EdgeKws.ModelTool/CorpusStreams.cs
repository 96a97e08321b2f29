using EdgeKws.Corpus.Speakers;
using EdgeKws.Corpus.Manifest;
using EdgeKws.ModelLoop.Evaluation;

namespace EdgeKws.ModelTool;

/// <summary>The evaluation streams of a generated corpus: its negative and positive streams, all test-split (held-out) speakers.</summary>
public static class CorpusStreams
{
    /// <summary>Reads <c>DIR/manifest.json</c>; refuses a corpus without streams or with streams outside the test split.</summary>
    public static IReadOnlyList<EvaluationStream> Load(string corpusDirectory, out string description)
    {
        string manifestPath = Path.Combine(corpusDirectory, "manifest.json");
        if (!File.Exists(manifestPath))
            throw new FileNotFoundException($"'{manifestPath}' not found; --corpus must be a directory written by edgekws-corpus");
        var manifest = CorpusManifest.Load(manifestPath);
        var testSpeakers = manifest.Speakers.Where(s => s.Split == CorpusSplit.Test).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var streams = new List<EvaluationStream>();
        foreach (var f in manifest.Files)
        {
            if (f.Kind is not (FileKind.NegativeStream or FileKind.PositiveStream)) continue;
            if (f.Split != CorpusSplit.Test)
                throw new InvalidDataException($"stream {f.Path} is in split '{f.Split}'; evaluation uses held-out (test) speakers only");
            foreach (var e in f.KeywordEvents)
            {
                if (!testSpeakers.Contains(e.Speaker))
                    throw new InvalidDataException($"stream {f.Path} has a keyword by {e.Speaker}, who is not a test speaker");
            }
            bool negative = f.Kind == FileKind.NegativeStream;
            if (negative && f.KeywordEvents.Count > 0)
                throw new InvalidDataException($"negative stream {f.Path} lists {f.KeywordEvents.Count} keyword events");
            streams.Add(new EvaluationStream(f.Path, Path.Combine(corpusDirectory, f.Path),
                negative ? EvaluationStreamKind.Negative : EvaluationStreamKind.Positive, f.DurationMs,
                [.. f.KeywordEvents.Select(e => new StreamPhrase(e.Keyword, e.StartMs, e.EndMs))]));
        }
        if (streams.Count == 0)
            throw new InvalidDataException($"corpus {corpusDirectory} has no evaluation streams; generate it with --negatives-minutes and --positives");
        var o = manifest.Options;
        description = $"edgekws-corpus {manifest.GeneratorVersion} seed {o.Seed}, {manifest.Speakers.Count} speakers ({testSpeakers.Count} test), "
            + $"{o.NegativeStreamMinutes} negative minutes, {o.PositiveStreamKeywords} positives, SNR {{{string.Join(",", o.SnrDbChoices)}}} dB";
        return streams;
    }
}

using System.Globalization;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Corpus.Speakers;
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
        var speakers = manifest.Speakers.ToDictionary(s => s.Id, StringComparer.Ordinal);
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
                [.. f.KeywordEvents.Select(e => new StreamPhrase(e.Keyword, e.StartMs, e.EndMs, Tags(e, f, speakers)))],
                negative && f.Segments is { Count: > 0 } segments ? [.. segments.Select(Segment)] : null));
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

    /// <summary>
    /// A keyword event's ground truth as breakdown tags: <c>engine</c> and <c>voice</c> (the speaker's engine and voice key),
    /// <c>room</c> (its impulse response, "dry" without), <c>snr</c> ("10 dB", "clean" without), <c>microphone</c>
    /// ("flat" without colouring), <c>noise</c> (the event's noise, else the file's, else "pink": the positive streams' floor).
    /// </summary>
    public static IReadOnlyDictionary<string, string> Tags(KeywordEvent e, CorpusFile file, IReadOnlyDictionary<string, SpeakerEntry> speakers)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(speakers);
        if (!speakers.TryGetValue(e.Speaker, out var speaker))
            throw new InvalidDataException($"stream {file.Path} has a keyword by {e.Speaker}, who is not in the manifest's speakers");
        // Insertion order is the order the tags are written in.
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [StreamTags.Engine] = speaker.Engine,
            [StreamTags.Voice] = speaker.VoiceKey,
            [StreamTags.Room] = string.IsNullOrEmpty(e.Room) ? "dry" : e.Room,
            [StreamTags.Snr] = e.SnrDb is { } snr ? snr.ToString("0.##", CultureInfo.InvariantCulture) + " dB" : "clean",
            [StreamTags.Microphone] = string.IsNullOrEmpty(e.Microphone) ? "flat" : e.Microphone,
            [StreamTags.Noise] = !string.IsNullOrEmpty(e.Noise) ? e.Noise : !string.IsNullOrEmpty(file.Noise) ? file.Noise : "pink",
        };
    }

    /// <summary>
    /// A negative-stream segment's kind for the breakdown: the corpus kind, refined by the noise type for noise segments
    /// (<c>noise:white</c>, <c>noise:hum</c>: a handful of rows, each a different sound); babble is its own kind already.
    /// A kind the evaluation does not know (a newer generator) becomes <c>other:KIND</c> rather than failing the evaluation.
    /// The segment's room is not part of the kind, to keep the list short.
    /// </summary>
    public static EvaluationSegment Segment(StreamSegment s)
    {
        ArgumentNullException.ThrowIfNull(s);
        string kind = s.Kind == "noise" && !string.IsNullOrEmpty(s.Noise) ? "noise:" + Slug(s.Noise) : s.Kind;
        if (!SegmentKinds.IsValid(kind)) kind = "other:" + Slug(s.Kind);
        return new EvaluationSegment(kind, s.StartMs, s.EndMs);
    }

    private static string Slug(string text)
    {
        var chars = text.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-' ? c : '-').ToArray();
        return chars.Length == 0 ? "unknown" : new string(chars);
    }
}

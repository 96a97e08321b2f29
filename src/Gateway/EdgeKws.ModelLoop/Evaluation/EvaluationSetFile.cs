using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// An evaluation set as a file (<c>edgekws-streams/1</c>): the streams <see cref="StreamingEvaluator"/> runs over, with their
/// ground truth, so the gateway's model job can evaluate without knowing the corpus format. <c>wavPath</c> is relative to the
/// file's directory (or absolute). Written from a generated corpus by <c>edgekws-model export-streams</c> (CorpusStreams.Load
/// + <see cref="Write"/>); recorded audio with word times can be described the same way.
/// <code>
/// { "formatVersion": "edgekws-streams/1", "description": "...",
///   "streams": [ { "name": "streams/neg.wav", "wavPath": "streams/neg.wav", "kind": "Negative", "durationMs": 60000, "phrases": [],
///                  "segments": [ { "kind": "speech", "startMs": 0, "endMs": 4200 }, { "kind": "noise:white", "startMs": 4900, "endMs": 7000 } ] },
///                { "name": "streams/pos.wav", "wavPath": "streams/pos.wav", "kind": "Positive", "durationMs": 90000,
///                  "phrases": [ { "phrase": "hey edge", "startMs": 2000, "endMs": 2600,
///                                 "tags": { "engine": "flite", "room": "dry", "snr": "10 dB" } } ] } ] }
/// </code>
/// <c>tags</c> (string to string) and <c>segments</c> are optional: files written before they existed load unchanged.
/// </summary>
public static partial class EvaluationSetFile
{
    /// <summary>The format name.</summary>
    public const string FormatVersion = "edgekws-streams/1";

    private sealed record FileShape(string? FormatVersion, string? Description, List<StreamShape>? Streams);

    private sealed record StreamShape(string? Name, string? WavPath, EvaluationStreamKind? Kind, double DurationMs, List<PhraseShape>? Phrases,
        List<SegmentShape>? Segments);

    // Tag values are read as JSON elements so a number or null is reported with its field, not as a converter error.
    private sealed record PhraseShape(string? Phrase, double StartMs, double EndMs, Dictionary<string, JsonElement>? Tags);

    private sealed record SegmentShape(string? Kind, double? StartMs, double? EndMs);

    // Web defaults (camelCase, case-insensitive names) as the file has always been read; null tags and segments are
    // left out when writing, so an untagged set is written as before.
    [JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, ReadCommentHandling = JsonCommentHandling.Skip,
        UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonSerializable(typeof(FileShape))]
    [JsonSerializable(typeof(string))]
    private sealed partial class StreamsJsonContext : JsonSerializerContext;

    /// <summary>Writes <paramref name="streams"/>; WAV paths under the file's directory are stored relative to it.</summary>
    public static void Write(string path, IReadOnlyList<EvaluationStream> streams, string? description)
    {
        ArgumentNullException.ThrowIfNull(streams);
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var shape = new FileShape(FormatVersion, description, streams.Select(s =>
        {
            string full = Path.GetFullPath(s.WavPath);
            string rel = Path.GetRelativePath(root, full);
            return new StreamShape(s.Name, rel.StartsWith("..", StringComparison.Ordinal) ? full : rel, s.Kind, s.DurationMs,
                [.. s.Phrases.Select(p => new PhraseShape(p.Phrase, p.StartMs, p.EndMs, p.Tags?.ToDictionary(
                    t => t.Key, t => JsonSerializer.SerializeToElement(t.Value, StreamsJsonContext.Default.String), StringComparer.Ordinal)))],
                s.Segments is { Count: > 0 } segments ? [.. segments.Select(g => new SegmentShape(g.Kind, g.StartMs, g.EndMs))] : null);
        }).ToList());
        File.WriteAllText(path, JsonSerializer.Serialize(shape, StreamsJsonContext.Default.FileShape) + "\n");
    }

    /// <summary>
    /// Reads and checks the file: format, at least one stream, every WAV present, phrases inside the stream, tags string to
    /// string with non-empty keys, segments of negative streams of a known kind, in order, disjoint and inside the stream.
    /// </summary>
    /// <exception cref="InvalidDataException">Naming the file, stream and field at fault (<c>streams[2].segments[5].endMs ...</c>),
    /// or for malformed JSON its line and JSON path.</exception>
    public static IReadOnlyList<EvaluationStream> Load(string path, out string description)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"evaluation set '{path}' not found", path);
        FileShape shape;
        try
        {
            shape = JsonSerializer.Deserialize(File.ReadAllBytes(path), StreamsJsonContext.Default.FileShape)
                ?? throw new InvalidDataException($"{path} is JSON null");
        }
        catch (JsonException ex)
        {
            string where = ex.LineNumber is { } line ? $"line {line + 1}" + (ex.Path is { Length: > 0 } p ? $", {p}" : "") : ex.Path ?? "";
            throw new InvalidDataException($"{path}: not an {FormatVersion} file ({where}): {ex.Message}", ex);
        }
        if (shape.FormatVersion != FormatVersion)
            throw new InvalidDataException($"{path}: formatVersion is '{shape.FormatVersion}', expected '{FormatVersion}'");
        if (shape.Streams is not { Count: > 0 })
            throw new InvalidDataException($"{path}: streams is empty; an evaluation needs at least one stream");
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var streams = new List<EvaluationStream>();
        for (int i = 0; i < shape.Streams.Count; i++)
        {
            StreamShape? s = shape.Streams[i];
            string where = $"{path}: streams[{i}]";
            if (s is null || string.IsNullOrEmpty(s.Name) || string.IsNullOrEmpty(s.WavPath) || s.Kind is null || !(s.DurationMs > 0))
                throw new InvalidDataException($"{where}: name, wavPath, kind (Negative|Positive) and durationMs > 0 are required");
            string wav = Path.IsPathRooted(s.WavPath) ? s.WavPath : Path.Combine(root, s.WavPath);
            if (!File.Exists(wav)) throw new InvalidDataException($"{where}: WAV '{wav}' not found");
            List<PhraseShape?> phraseShapes = s.Phrases is null ? [] : [.. s.Phrases];
            if (s.Kind == EvaluationStreamKind.Negative && phraseShapes.Count > 0)
                throw new InvalidDataException($"{where}: a negative stream lists {phraseShapes.Count} phrases");
            var phrases = new List<StreamPhrase>(phraseShapes.Count);
            for (int k = 0; k < phraseShapes.Count; k++)
            {
                PhraseShape? p = phraseShapes[k];
                string at = $"{where}.phrases[{k}]";
                if (p is null || string.IsNullOrEmpty(p.Phrase) || p.StartMs < 0 || p.EndMs <= p.StartMs || p.EndMs > s.DurationMs)
                    throw new InvalidDataException($"{at}: phrase '{p?.Phrase}' at {F(p?.StartMs)}..{F(p?.EndMs)} ms is empty or outside the stream (durationMs {F(s.DurationMs)})");
                phrases.Add(new StreamPhrase(p.Phrase, p.StartMs, p.EndMs, Tags(p.Tags, at)));
            }
            List<EvaluationSegment>? segments = null;
            if (s.Segments is { Count: > 0 })
            {
                if (s.Kind != EvaluationStreamKind.Negative)
                    throw new InvalidDataException($"{where}.segments: only negative streams have segments (a positive stream's false accepts count as {SegmentKinds.PositiveBackground})");
                segments = new List<EvaluationSegment>(s.Segments.Count);
                for (int k = 0; k < s.Segments.Count; k++)
                {
                    SegmentShape? g = s.Segments[k];
                    if (g is null) throw new InvalidDataException($"{where}.segments[{k}] is null");
                    if (g.Kind is null) throw new InvalidDataException($"{where}.segments[{k}].kind is required");
                    if (g.StartMs is null || g.EndMs is null) throw new InvalidDataException($"{where}.segments[{k}]: startMs and endMs are required");
                    segments.Add(new EvaluationSegment(g.Kind, g.StartMs.Value, g.EndMs.Value));
                }
                if (SegmentKinds.Check(segments, s.DurationMs) is { } problem) throw new InvalidDataException($"{where}.{problem}");
            }
            streams.Add(new EvaluationStream(s.Name, wav, s.Kind.Value, s.DurationMs, phrases, segments));
        }
        description = shape.Description ?? Path.GetFileName(path);
        return streams;
    }

    private static Dictionary<string, string>? Tags(Dictionary<string, JsonElement>? tags, string at)
    {
        if (tags is null) return null;
        var result = new Dictionary<string, string>(tags.Count, StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            if (string.IsNullOrWhiteSpace(key)) throw new InvalidDataException($"{at}.tags: key must be non-empty");
            if (value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{at}.tags.{key}: value must be a string, got {value.ValueKind} {value.GetRawText()}");
            string text = value.GetString()!;
            if (text.Length == 0) throw new InvalidDataException($"{at}.tags.{key}: value must be non-empty");
            result[key] = text;
        }
        return result;
    }

    private static string F(double? x) => x is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "?";
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// An evaluation set as a file (<c>edgekws-streams/1</c>): the streams <see cref="StreamingEvaluator"/> runs over, with their
/// ground truth, so the gateway's model job can evaluate without knowing the corpus format. <c>wavPath</c> is relative to the
/// file's directory (or absolute). Written from a generated corpus with <c>CorpusStreams.Load</c> (tools/EdgeKws.ModelTool)
/// + <see cref="Write"/>; recorded audio with word times can be described the same way.
/// <code>
/// { "formatVersion": "edgekws-streams/1", "description": "...",
///   "streams": [ { "name": "streams/neg.wav", "wavPath": "streams/neg.wav", "kind": "Negative", "durationMs": 60000, "phrases": [] },
///                { "name": "streams/pos.wav", "wavPath": "streams/pos.wav", "kind": "Positive", "durationMs": 90000,
///                  "phrases": [ { "phrase": "hey edge", "startMs": 2000, "endMs": 2600 } ] } ] }
/// </code>
/// </summary>
public static class EvaluationSetFile
{
    /// <summary>The format name.</summary>
    public const string FormatVersion = "edgekws-streams/1";

    private static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, ReadCommentHandling = JsonCommentHandling.Skip };
        o.Converters.Add(new JsonStringEnumConverter());
        return o;
    }

    private sealed record FileShape(string? FormatVersion, string? Description, List<StreamShape>? Streams);

    private sealed record StreamShape(string? Name, string? WavPath, EvaluationStreamKind? Kind, double DurationMs, List<StreamPhrase>? Phrases);

    /// <summary>Writes <paramref name="streams"/>; WAV paths under the file's directory are stored relative to it.</summary>
    public static void Write(string path, IReadOnlyList<EvaluationStream> streams, string? description)
    {
        ArgumentNullException.ThrowIfNull(streams);
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var shape = new FileShape(FormatVersion, description, streams.Select(s =>
        {
            string full = Path.GetFullPath(s.WavPath);
            string rel = Path.GetRelativePath(root, full);
            return new StreamShape(s.Name, rel.StartsWith("..", StringComparison.Ordinal) ? full : rel, s.Kind, s.DurationMs, [.. s.Phrases]);
        }).ToList());
        File.WriteAllText(path, JsonSerializer.Serialize(shape, Json) + "\n");
    }

    /// <summary>Reads and checks the file: format, at least one stream, every WAV present, phrases inside the stream.</summary>
    /// <exception cref="InvalidDataException">Naming the file, stream and field at fault.</exception>
    public static IReadOnlyList<EvaluationStream> Load(string path, out string description)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"evaluation set '{path}' not found", path);
        FileShape shape;
        try
        {
            shape = JsonSerializer.Deserialize<FileShape>(File.ReadAllBytes(path), Json) ?? throw new InvalidDataException($"{path} is JSON null");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not an {FormatVersion} file: {ex.Message}", ex);
        }
        if (shape.FormatVersion != FormatVersion)
            throw new InvalidDataException($"{path}: formatVersion is '{shape.FormatVersion}', expected '{FormatVersion}'");
        if (shape.Streams is not { Count: > 0 })
            throw new InvalidDataException($"{path}: streams is empty; an evaluation needs at least one stream");
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var streams = new List<EvaluationStream>();
        for (int i = 0; i < shape.Streams.Count; i++)
        {
            StreamShape s = shape.Streams[i];
            string where = $"{path}: streams[{i}]";
            if (string.IsNullOrEmpty(s.Name) || string.IsNullOrEmpty(s.WavPath) || s.Kind is null || !(s.DurationMs > 0))
                throw new InvalidDataException($"{where}: name, wavPath, kind (Negative|Positive) and durationMs > 0 are required");
            string wav = Path.IsPathRooted(s.WavPath) ? s.WavPath : Path.Combine(root, s.WavPath);
            if (!File.Exists(wav)) throw new InvalidDataException($"{where}: WAV '{wav}' not found");
            List<StreamPhrase> phrases = s.Phrases ?? [];
            if (s.Kind == EvaluationStreamKind.Negative && phrases.Count > 0)
                throw new InvalidDataException($"{where}: a negative stream lists {phrases.Count} phrases");
            foreach (StreamPhrase p in phrases)
            {
                if (string.IsNullOrEmpty(p.Phrase) || p.StartMs < 0 || p.EndMs <= p.StartMs || p.EndMs > s.DurationMs)
                    throw new InvalidDataException($"{where}: phrase '{p.Phrase}' at {p.StartMs}..{p.EndMs} ms is empty or outside the stream");
            }
            streams.Add(new EvaluationStream(s.Name, wav, s.Kind.Value, s.DurationMs, phrases));
        }
        description = shape.Description ?? Path.GetFileName(path);
        return streams;
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.Corpus.Manifest;

/// <summary>Kinds of files in the corpus.</summary>
public static class FileKind
{
    /// <summary>An isolated keyword phrase (one per take).</summary>
    public const string Keyword = "keyword";

    /// <summary>An isolated confusable phrase that is not a keyword.</summary>
    public const string NearMiss = "near-miss";

    /// <summary>A sentence synthesised word by word, with or without a keyword.</summary>
    public const string Sentence = "sentence";

    /// <summary>A long keyword-free stream (FA/hour).</summary>
    public const string NegativeStream = "negative-stream";

    /// <summary>A long stream with keywords at known times (FRR).</summary>
    public const string PositiveStream = "positive-stream";
}

/// <summary>The corpus index: generator version, options, speakers with their split, and every file with its ground truth.</summary>
public sealed class CorpusManifest
{
    /// <summary>Manifest schema version.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>Generator version; a change that alters output bumps it.</summary>
    public required string GeneratorVersion { get; init; }

    /// <summary>The options the corpus was generated with.</summary>
    public required CorpusOptions Options { get; init; }

    /// <summary>Engines actually used (resolved from the options and what is installed).</summary>
    public required IReadOnlyList<string> Engines { get; init; }

    /// <summary>Version line of each external tool used; another version may synthesise other bytes.</summary>
    public required IReadOnlyList<string> ToolVersions { get; init; }

    /// <summary>Sample rate of every file.</summary>
    public int SampleRateHz { get; init; } = 16_000;

    /// <summary>How SNR is defined in this corpus.</summary>
    public required string SnrDefinition { get; init; }

    /// <summary>The level clean speech is normalised to before the gain variation.</summary>
    public required double ReferenceLevelDbFs { get; init; }

    /// <summary>Every speaker with its split.</summary>
    public required IReadOnlyList<SpeakerEntry> Speakers { get; init; }

    /// <summary>Every audio file.</summary>
    public required IReadOnlyList<CorpusFile> Files { get; init; }

    /// <summary>Counts and durations per split and kind.</summary>
    public required IReadOnlyList<SummaryRow> Summary { get; init; }

    /// <summary>Reads a manifest written by the generator.</summary>
    public static CorpusManifest Load(string path)
    {
        using FileStream s = File.OpenRead(path);
        return JsonSerializer.Deserialize(s, CorpusJson.Context.CorpusManifest)
            ?? throw new InvalidDataException($"'{path}' holds no manifest.");
    }
}

/// <summary>One speaker and its split.</summary>
public sealed record SpeakerEntry(string Id, string VoiceKey, string Engine, string Voice, string Variant, int RatePercent, int PitchPercent, string Split);

/// <summary>One word (or phrase chunk) with exact times; <see cref="Speaker"/> is set in streams.</summary>
public sealed record WordInterval(string Word, double StartMs, double EndMs, string? Speaker = null);

/// <summary>
/// A keyword occurrence in a sentence or positive stream. <see cref="Room"/> names the room impulse response it was
/// convolved with ("dry" or null for none), <see cref="Microphone"/> the channel colouring, <see cref="Noise"/> the
/// kind of noise it was mixed with (positive streams: the bed under this keyword).
/// </summary>
public sealed record KeywordEvent(string Keyword, double StartMs, double EndMs, string Speaker, double? SnrDb = null, double? GainDb = null, string? Room = null, string? Microphone = null, string? Noise = null);

/// <summary>A stretch of a stream: speech, near-miss, silence, noise, tones, music, tv, babble, keyword; <see cref="Room"/> as on <see cref="KeywordEvent"/>.</summary>
public sealed record StreamSegment(string Kind, double StartMs, double EndMs, string? Speaker = null, string? Transcript = null, string? Noise = null, double? LevelDbFs = null, string? Room = null);

/// <summary>Files and hours per split and kind.</summary>
public sealed record SummaryRow(string Split, string Kind, int Files, double DurationSeconds);

/// <summary>One audio file and its ground truth; the same record is written next to the WAV as <c>*.json</c>.</summary>
public sealed class CorpusFile
{
    /// <summary>Path relative to the corpus root, '/' separated.</summary>
    public required string Path { get; init; }

    /// <summary>Clean reference (speech after gain, no noise) when written.</summary>
    public string? CleanPath { get; init; }

    /// <summary>train, validation or test.</summary>
    public required string Split { get; init; }

    /// <summary>Speaker id (null for streams, which mix several test speakers).</summary>
    public string? Speaker { get; init; }

    /// <summary>One of <see cref="FileKind"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>What is said (words of the whole file; empty for streams).</summary>
    public required string Transcript { get; init; }

    /// <summary>The keyword this file contains, if one (keyword takes and keyword sentences).</summary>
    public string? Keyword { get; init; }

    /// <summary>Samples in the file.</summary>
    public required long SampleCount { get; init; }

    /// <summary>Length in milliseconds (SampleCount / 16).</summary>
    public required double DurationMs { get; init; }

    /// <summary>First speech sample, in ms (clips only).</summary>
    public double? SpeechStartMs { get; init; }

    /// <summary>One past the last speech sample, in ms (clips only).</summary>
    public double? SpeechEndMs { get; init; }

    /// <summary>Word intervals, exact by construction.</summary>
    public required IReadOnlyList<WordInterval> Words { get; init; }

    /// <summary>Keyword occurrences (empty when none).</summary>
    public required IReadOnlyList<KeywordEvent> KeywordEvents { get; init; }

    /// <summary>Stream composition (streams only).</summary>
    public IReadOnlyList<StreamSegment>? Segments { get; init; }

    /// <summary>Noise kind mixed in (clips); "none" when clean.</summary>
    public string? Noise { get; init; }

    /// <summary>SNR of the mix by the corpus definition (null when clean or a stream).</summary>
    public double? SnrDb { get; init; }

    /// <summary>Gain applied after normalising to the reference level (clips).</summary>
    public double? GainDb { get; init; }

    /// <summary>True when samples were driven past full scale and saturated.</summary>
    public bool Clipped { get; init; }

    /// <summary>Far-field clips: the impulse response the speech was convolved with ("dry" for none).</summary>
    public string? Room { get; init; }

    /// <summary>Far-field clips: the room's reverberation class (see <c>RoomDraw.ClassOf</c>).</summary>
    public string? RoomClass { get; init; }

    /// <summary>Far-field clips: the microphone colouring.</summary>
    public string? Microphone { get; init; }

    /// <summary>Far-field clips: the peak level (dBFS) the mix was set to.</summary>
    public double? LevelDbFs { get; init; }
}

/// <summary>Source-generated JSON for the manifest and sidecars (no reflection; stable output).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CorpusManifest))]
[JsonSerializable(typeof(CorpusFile))]
public sealed partial class CorpusJsonContext : JsonSerializerContext;

/// <summary>The one JSON context used to write and read corpus files: source-generated, and with relaxed escaping so ids like <c>en-us+f3</c> stay readable.</summary>
public static class CorpusJson
{
    /// <summary>Context for manifest.json and the per-file sidecars.</summary>
    public static CorpusJsonContext Context { get; } = new(new JsonSerializerOptions(CorpusJsonContext.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

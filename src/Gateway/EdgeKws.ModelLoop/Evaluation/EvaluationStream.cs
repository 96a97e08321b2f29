namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>What a stream is for: false accepts only, or keyword occurrences at known times.</summary>
public enum EvaluationStreamKind
{
    /// <summary>Keyword-free audio: every detection is a false accept.</summary>
    Negative,
    /// <summary>Audio with keyword occurrences at known times: a detection inside a keyword's
    /// acceptance interval accepts it, any other detection is a false accept.</summary>
    Positive,
}

/// <summary>A spoken phrase at a known time in a stream (the target keyword or another phrase).</summary>
/// <param name="Phrase">What was said, e.g. "hey edge" or "stop".</param>
/// <param name="Tags">
/// Ground-truth attributes of this occurrence the accuracy breakdown groups by, e.g. <c>engine</c>, <c>voice</c>,
/// <c>room</c>, <c>snr</c>, <c>microphone</c>, <c>noise</c> (<see cref="StreamTags"/>); null when unknown.
/// </param>
public sealed record StreamPhrase(string Phrase, double StartMs, double EndMs, IReadOnlyDictionary<string, string>? Tags = null);

/// <summary>
/// A labelled stretch of a negative stream: what kind of audio it is (<see cref="SegmentKinds"/>), so false accepts
/// can be counted per kind (speech, music, ...). Segments of a stream are in time order and do not overlap; time
/// between them is "gap".
/// </summary>
/// <param name="Kind">A kind of <see cref="SegmentKinds.Known"/>, optionally refined after a colon (<c>noise:white</c>).</param>
public sealed record EvaluationSegment(string Kind, double StartMs, double EndMs);

/// <summary>
/// One evaluation recording (16 kHz mono WAV) with its ground truth. Independent of the corpus
/// format: <c>edgekws-model</c> maps a generated corpus's test streams to these.
/// </summary>
/// <param name="Name">Stable name for reports (e.g. the corpus-relative path).</param>
/// <param name="WavPath">Path of the audio.</param>
/// <param name="DurationMs">Length of the audio.</param>
/// <param name="Phrases">Keyword phrases spoken in it (empty for a negative stream).</param>
/// <param name="Segments">What a negative stream is made of (null or empty: unlabelled; its false accepts count as "unlabelled").</param>
public sealed record EvaluationStream(string Name, string WavPath, EvaluationStreamKind Kind, double DurationMs, IReadOnlyList<StreamPhrase> Phrases,
    IReadOnlyList<EvaluationSegment>? Segments = null);

/// <summary>The tag keys the breakdown knows by name (any other key is grouped too, after these).</summary>
public static class StreamTags
{
    /// <summary>Speech synthesis engine or "human" (e.g. espeak-ng, flite, festival).</summary>
    public const string Engine = "engine";
    /// <summary>The voice (engine + voice + variant, e.g. "espeak-ng:en-us+f3").</summary>
    public const string Voice = "voice";
    /// <summary>Room impulse response the keyword was convolved with ("dry": none).</summary>
    public const string Room = "room";
    /// <summary>Signal-to-noise ratio, "10 dB", or "clean".</summary>
    public const string Snr = "snr";
    /// <summary>Microphone / channel colouring ("flat": none).</summary>
    public const string Microphone = "microphone";
    /// <summary>Kind of noise under the keyword (e.g. pink, babble).</summary>
    public const string Noise = "noise";

    /// <summary>The known keys in the order reports list them.</summary>
    public static IReadOnlyList<string> Ordered { get; } = [Engine, Voice, Room, Snr, Microphone, Noise];
}

/// <summary>Kinds of negative-stream segment, and the names the breakdown uses for audio no segment labels.</summary>
public static class SegmentKinds
{
    /// <summary>
    /// Base kinds a segment may have. A kind may be refined after a colon with lower-case letters, digits, '.', '_'
    /// or '-' (<c>noise:white</c>, <c>noise:fan</c>, <c>music:radio</c>); each refined kind is its own row.
    /// </summary>
    public static IReadOnlyList<string> Known { get; } = ["speech", "near-miss", "silence", "noise", "babble", "music", "tones", "tv", "other"];

    /// <summary>Time of a segmented negative stream outside every segment.</summary>
    public const string Gap = "gap";
    /// <summary>A negative stream without segments.</summary>
    public const string Unlabelled = "unlabelled";
    /// <summary>Positive streams outside every keyword's acceptance interval.</summary>
    public const string PositiveBackground = "positive-background";

    /// <summary>True for a base kind or base:refinement as described on <see cref="Known"/>.</summary>
    public static bool IsValid(string? kind)
    {
        if (string.IsNullOrEmpty(kind)) return false;
        int colon = kind.IndexOf(':', StringComparison.Ordinal);
        string baseKind = colon < 0 ? kind : kind[..colon];
        if (!Known.Contains(baseKind, StringComparer.Ordinal)) return false;
        if (colon < 0) return true;
        string detail = kind[(colon + 1)..];
        return detail.Length > 0 && detail.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-');
    }

    /// <summary>
    /// Null when <paramref name="segments"/> of a stream of <paramref name="durationMs"/> are valid, else the first
    /// problem with its field (<c>segments[5].endMs 1200 &lt;= startMs 1300</c>); callers prefix the stream.
    /// </summary>
    public static string? Check(IReadOnlyList<EvaluationSegment> segments, double durationMs)
    {
        ArgumentNullException.ThrowIfNull(segments);
        double previousEnd = 0;
        for (int i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            string at = $"segments[{i}]";
            if (s is null) return $"{at} is null";
            if (!IsValid(s.Kind))
                return $"{at}.kind '{s.Kind}' is unknown (known: {string.Join(", ", Known)}; refine after a colon, e.g. noise:fan)";
            if (!double.IsFinite(s.StartMs) || s.StartMs < 0) return $"{at}.startMs {F(s.StartMs)} must be >= 0";
            if (!double.IsFinite(s.EndMs) || s.EndMs <= s.StartMs) return $"{at}.endMs {F(s.EndMs)} <= startMs {F(s.StartMs)}";
            if (s.EndMs > durationMs) return $"{at}.endMs {F(s.EndMs)} > the stream's durationMs {F(durationMs)}";
            // Sorted and disjoint: per-kind hours then add up to the stream's duration, and each time has one kind.
            if (i > 0 && s.StartMs < previousEnd)
                return $"{at}.startMs {F(s.StartMs)} < segments[{i - 1}].endMs {F(previousEnd)}: segments must be in time order and must not overlap";
            previousEnd = s.EndMs;
        }
        return null;
    }

    private static string F(double x) => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}

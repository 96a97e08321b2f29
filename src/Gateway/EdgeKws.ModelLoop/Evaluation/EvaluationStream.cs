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
public sealed record StreamPhrase(string Phrase, double StartMs, double EndMs);

/// <summary>
/// One evaluation recording (16 kHz mono WAV) with its ground truth. Independent of the corpus
/// format: <c>edgekws-model</c> maps a generated corpus's test streams to these.
/// </summary>
/// <param name="Name">Stable name for reports (e.g. the corpus-relative path).</param>
/// <param name="WavPath">Path of the audio.</param>
/// <param name="DurationMs">Length of the audio.</param>
/// <param name="Phrases">Keyword phrases spoken in it (empty for a negative stream).</param>
public sealed record EvaluationStream(string Name, string WavPath, EvaluationStreamKind Kind, double DurationMs, IReadOnlyList<StreamPhrase> Phrases);

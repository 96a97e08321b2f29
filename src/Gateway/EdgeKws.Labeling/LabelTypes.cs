namespace EdgeKws.Labeling;

/// <summary>One word (or a phrase treated as one unit) with its time span in the audio.</summary>
/// <param name="Word">The word, lower case as the source wrote it.</param>
/// <param name="StartMs">Start, milliseconds from the start of the audio.</param>
/// <param name="EndMs">End (exclusive), milliseconds from the start of the audio.</param>
/// <param name="Confidence">Confidence in 0..1 when the source gives one.</param>
public sealed record WordSpan(string Word, double StartMs, double EndMs, double? Confidence = null)
{
    /// <summary>Duration in milliseconds.</summary>
    public double DurationMs => EndMs - StartMs;

    /// <summary>Midpoint in milliseconds (where MSWC centres the 1 s clip).</summary>
    public double MidMs => (StartMs + EndMs) / 2;
}

/// <summary>Where a label came from, kept with every label so label quality can be audited.</summary>
/// <param name="Kind">One of <see cref="LabelKinds"/>: generator, import, aligner, review.</param>
/// <param name="Tool">Tool and version, e.g. "pocketsphinx 0.8+5prealpha+1-15", "mfa-textgrid", "edgekws-corpus 3".</param>
/// <param name="Confidence">Confidence 0..1 when known.</param>
/// <param name="Reviewer">Who confirmed or corrected it (review labels only).</param>
public sealed record LabelSource(string Kind, string Tool, double? Confidence = null, string? Reviewer = null);

/// <summary>The values of <see cref="LabelSource.Kind"/> (also used by the dataset lineage).</summary>
public static class LabelKinds
{
    /// <summary>Exact by construction (the synthetic corpus generator).</summary>
    public const string Generator = "generator";

    /// <summary>Read from an aligner's or a corpus's files (TextGrid, CTM, CSV/JSON, folder layouts).</summary>
    public const string Import = "import";

    /// <summary>Computed by the built-in aligner.</summary>
    public const string Aligner = "aligner";

    /// <summary>Confirmed or corrected by a person.</summary>
    public const string Review = "review";
}

/// <summary>Word intervals of one audio file (or one utterance of it) and where they came from.</summary>
/// <param name="Utterance">Utterance or file id the intervals belong to.</param>
/// <param name="Words">Words in time order.</param>
/// <param name="Source">Where the intervals came from.</param>
public sealed record WordAlignment(string Utterance, IReadOnlyList<WordSpan> Words, LabelSource Source);

/// <summary>A label file is malformed: names the file and the 1-based line (0 when the problem is the file as a whole).</summary>
public sealed class LabelFormatException : Exception
{
    /// <summary>Creates the exception; the message starts with "file:line: ".</summary>
    public LabelFormatException(string filePath, int line, string problem)
        : base(line > 0 ? $"{filePath}:{line}: {problem}" : $"{filePath}: {problem}")
    {
        FilePath = filePath;
        Line = line;
        Problem = problem;
    }

    /// <summary>The file that is malformed.</summary>
    public string FilePath { get; }

    /// <summary>1-based line of the problem; 0 for the file as a whole.</summary>
    public int Line { get; }

    /// <summary>The problem without the location.</summary>
    public string Problem { get; }
}

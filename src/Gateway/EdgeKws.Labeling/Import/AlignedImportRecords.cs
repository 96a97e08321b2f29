using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Extraction;

namespace EdgeKws.Labeling.Import;

/// <summary>Where an imported recording's speaker comes from.</summary>
public enum SpeakerSource
{
    /// <summary>The name of the directory the audio file is in (MFA's corpus layout: <c>speaker/utterance.wav</c>).</summary>
    Directory,

    /// <summary>The TextGrid word tier's speaker (MFA's "&lt;speaker&gt; - words"); other formats fall back to the directory.</summary>
    Tier,

    /// <summary>A CSV map file (<see cref="AlignedImportOptions.SpeakerMapPath"/>).</summary>
    Map,
}

/// <summary>Options of <see cref="AlignedCorpusImporter"/>.</summary>
public sealed record AlignedImportOptions
{
    /// <summary>Keyword phrases (at least one); each becomes a class.</summary>
    public required IReadOnlyList<string> Keywords { get; init; }

    /// <summary>Where speakers come from.</summary>
    public SpeakerSource SpeakerSource { get; init; } = SpeakerSource.Directory;

    /// <summary>
    /// With <see cref="SpeakerSource.Map"/>: a CSV with a header naming <c>speaker</c> and one of <c>utterance</c>, <c>file</c>
    /// or <c>recording</c> (an utterance id, an audio file name without extension, or its path under the audio directory).
    /// </summary>
    public string? SpeakerMapPath { get; init; }

    /// <summary>Alignment formats read ("textgrid", "ctm", "csv", "json"); null reads all (see <see cref="AlignedCorpusImporter.FormatOf"/>).</summary>
    public IReadOnlyList<string>? Formats { get; init; }

    /// <summary>TextGrid word tier name (exactly, or MFA's "&lt;speaker&gt; - name").</summary>
    public string WordTier { get; init; } = "words";

    /// <summary>Background windows cut from non-keyword words, at most this many per recording (see <see cref="AlignedCorpusImporter"/>).</summary>
    public int NegativesPerRecording { get; init; } = 2;

    /// <summary>Share of speakers held out for test.</summary>
    public double TestShare { get; init; } = 0.1;

    /// <summary>Share of speakers held out for validation.</summary>
    public double ValidationShare { get; init; } = 0.1;

    /// <summary>Seed of the speaker order that decides the splits.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Clip length and quality filters.</summary>
    public ExtractionOptions Extraction { get; init; } = new();
}

/// <summary>A file or utterance the import could not use, and why.</summary>
/// <param name="File">The file (alignment or audio), relative to its directory.</param>
/// <param name="Line">1-based line of the problem, 0 for the file as a whole.</param>
/// <param name="Problem">What is wrong.</param>
public sealed record ImportProblem(string File, int Line, string Problem)
{
    /// <inheritdoc/>
    public override string ToString() => Line > 0 ? $"{File}:{Line}: {Problem}" : $"{File}: {Problem}";
}

/// <summary>What an import read, cut and wrote.</summary>
public sealed record AlignedImportReport
{
    /// <summary>Alignment files found, by format ("textgrid", "ctm", "csv", "json").</summary>
    public required IReadOnlyDictionary<string, int> FilesByFormat { get; init; }

    /// <summary>Alignment files that were malformed (skipped), each with file and line.</summary>
    public required IReadOnlyList<ImportProblem> Malformed { get; init; }

    /// <summary>Utterances read from well-formed files.</summary>
    public required int Utterances { get; init; }

    /// <summary>Utterances cut (paired with audio, speaker known, audio readable and long enough).</summary>
    public required int Recordings { get; init; }

    /// <summary>Utterances skipped: no audio, ambiguous audio, no speaker, unreadable audio, alignment past the audio's end.</summary>
    public required IReadOnlyList<ImportProblem> Skipped { get; init; }

    /// <summary>Keyword occurrences per keyword in the cut recordings.</summary>
    public required IReadOnlyDictionary<string, int> Occurrences { get; init; }

    /// <summary>Keyword clips that passed every filter (dataset positives).</summary>
    public required int Accepted { get; init; }

    /// <summary>Keyword clips queued for review (borderline confidence).</summary>
    public required int Review { get; init; }

    /// <summary>Keyword clips that failed a filter, by reason kind (queued with the full reason).</summary>
    public required IReadOnlyDictionary<string, int> RejectedByReason { get; init; }

    /// <summary>Background windows written (dataset class 0).</summary>
    public required int Negatives { get; init; }

    /// <summary>Candidate background windows a filter refused (not queued: nobody needs to review a noisy negative).</summary>
    public required int NegativesFiltered { get; init; }

    /// <summary>Speakers per split.</summary>
    public required IReadOnlyDictionary<string, int> SpeakersBySplit { get; init; }

    /// <summary>The dataset written, null when no example was left.</summary>
    public DatasetExportResult? Dataset { get; init; }

    /// <summary>Keyword clips rejected in total.</summary>
    public int Rejected => RejectedByReason.Values.Sum();

    /// <summary>The report as text lines (what the CLI prints and writes to import-report.txt).</summary>
    public IEnumerable<string> Lines()
    {
        yield return $"alignment files: {FilesByFormat.Values.Sum()} ({string.Join(", ", FilesByFormat.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}); malformed (skipped): {Malformed.Count}";
        foreach (ImportProblem m in Malformed)
        {
            yield return "  malformed: " + m;
        }

        yield return $"utterances: {Utterances} read, {Recordings} cut, {Skipped.Count} skipped";
        foreach (ImportProblem s in Skipped)
        {
            yield return "  skipped: " + s;
        }

        yield return $"keyword occurrences: {Occurrences.Values.Sum()} ({string.Join(", ", Occurrences.Select(k => $"{k.Key} {k.Value}"))})";
        yield return $"keyword clips: {Accepted} accepted, {Review} to review, {Rejected} rejected (queued with the reason)";
        foreach ((string reason, int n) in RejectedByReason.OrderByDescending(k => k.Value).ThenBy(k => k.Key, StringComparer.Ordinal))
        {
            yield return $"  rejected {n,4}  {reason}";
        }

        yield return $"background windows: {Negatives} ({NegativesFiltered} candidates refused by the filters)";
        yield return $"speakers: {string.Join(", ", SplitNames.All.Select(s => $"{s} {SpeakersBySplit.GetValueOrDefault(s)}"))}";
        if (Dataset is { } d)
        {
            yield return $"dataset {d.DatasetId}: " + string.Join(", ", d.CountsBySplit.Select(k => $"{k.Key} {k.Value}"));
            yield return "leakage check: passed (speaker, sourceRecording, augmentedFrom)";
        }
        else
        {
            yield return "dataset: not written (no example)";
        }
    }
}

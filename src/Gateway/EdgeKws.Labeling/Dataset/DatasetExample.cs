namespace EdgeKws.Labeling.Dataset;

/// <summary>
/// One example of a dataset: a 1 s window of a recording, its class and its lineage
/// (docs/dataset-format.md). The audio is read at export time, so a list of examples is small.
/// </summary>
/// <param name="ClipId">Unique id of the example.</param>
/// <param name="Split">train, validation or test.</param>
/// <param name="LabelName">Class name; must be one of the exporter's classes.</param>
/// <param name="Speaker">Speaker id (null when the audio mixes several, e.g. a stream's noise window).</param>
/// <param name="SourceRecording">The recording the window is cut from (corpus-relative path).</param>
/// <param name="WavPath">Where that recording is on disk.</param>
/// <param name="StartMs">Window start in the recording; the window is 1 s; outside the recording is zero.</param>
/// <param name="Source">Where the label came from (generator, import, aligner, review).</param>
/// <param name="AugmentedFrom">The example or recording this one is an augmented twin of, else null.</param>
public sealed record DatasetExample(string ClipId, string Split, string LabelName, string? Speaker, string SourceRecording, string WavPath, double StartMs, LabelSource Source, string? AugmentedFrom = null)
{
    /// <summary>Window end (start + 1000 ms).</summary>
    public double EndMs => StartMs + 1000;
}

/// <summary>One leak: a speaker, source recording or augmented twin found in more than one split.</summary>
/// <param name="Kind">"speaker", "sourceRecording" or "augmentedFrom".</param>
/// <param name="Value">The speaker id, recording or twin group.</param>
/// <param name="Splits">The splits it appears in.</param>
/// <param name="ExampleClipIds">A few of the examples involved.</param>
public sealed record Leak(string Kind, string Value, IReadOnlyList<string> Splits, IReadOnlyList<string> ExampleClipIds)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Kind} '{Value}' is in {string.Join(" and ", Splits)} (e.g. {string.Join(", ", ExampleClipIds)})";
}

/// <summary>The export refused to write because examples leak across splits; names every leak.</summary>
public sealed class DatasetLeakageException(IReadOnlyList<Leak> leaks)
    : Exception($"Dataset not written: {leaks.Count} leak(s) across splits: " + string.Join("; ", leaks.Take(10)) + (leaks.Count > 10 ? "; ..." : ""))
{
    /// <summary>Every leak found.</summary>
    public IReadOnlyList<Leak> Leaks { get; } = leaks;
}

/// <summary>The leakage check of the dataset format: no speaker, source recording or augmented twin in two splits.</summary>
public static class LeakageCheck
{
    /// <summary>The checks, as written into dataset.json.</summary>
    public static IReadOnlyList<string> Checked { get; } = ["speaker", "sourceRecording", "augmentedFrom"];

    /// <summary>Finds every leak (empty when the splits are clean).</summary>
    public static IReadOnlyList<Leak> Find(IReadOnlyList<DatasetExample> examples)
    {
        var leaks = new List<Leak>();
        Check("speaker", e => e.Speaker);
        Check("sourceRecording", e => e.SourceRecording);
        // Twins: an augmented example, the example it came from, and its other twins share a group.
        Check("augmentedFrom", e => e.AugmentedFrom ?? (examples.Any(x => x.AugmentedFrom == e.ClipId) ? e.ClipId : null));
        return leaks;

        void Check(string kind, Func<DatasetExample, string?> key)
        {
            foreach (IGrouping<string, DatasetExample> g in examples.Where(e => key(e) is not null).GroupBy(e => key(e)!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                string[] splits = [.. g.Select(e => e.Split).Distinct().Order(StringComparer.Ordinal)];
                if (splits.Length > 1)
                {
                    leaks.Add(new Leak(kind, g.Key, splits, [.. g.GroupBy(e => e.Split).Select(s => s.First().ClipId)]));
                }
            }
        }
    }
}

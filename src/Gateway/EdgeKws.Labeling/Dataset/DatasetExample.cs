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
/// <param name="Field">Where a device clip came from (device, capture time, trigger or near miss, model, score); null for corpus examples.</param>
/// <param name="Features">The window's MFCCs, <c>[98 x 13]</c> frame-major, when the device uploaded features instead of audio (they must be in the
/// exporter's feature config); then <paramref name="WavPath"/> is not read. Null: the exporter computes them from the audio.</param>
public sealed record DatasetExample(string ClipId, string Split, string LabelName, string? Speaker, string SourceRecording, string WavPath, double StartMs, LabelSource Source,
    string? AugmentedFrom = null, FieldLineage? Field = null, float[]? Features = null)
{
    /// <summary>Window end (start + 1000 ms).</summary>
    public double EndMs => StartMs + 1000;
}

/// <summary>The lineage of an example cut from a device clip (a trigger's or a near miss's), written into its lineage line.</summary>
/// <param name="DeviceId">The device that heard it.</param>
/// <param name="CapturedUtc">The device's clock when it decided the detection or near miss (not the gateway's receive time: an outbox backlog
/// delivers old clips late).</param>
/// <param name="Kind"><see cref="FieldClipKinds.Trigger"/> or <see cref="FieldClipKinds.NearMiss"/>.</param>
/// <param name="ModelVersion">The model that scored it on the device.</param>
/// <param name="DeviceScore">The score the device reported (a trigger's at the threshold crossing, a near miss's peak).</param>
/// <param name="FeatureSource">"audio" (features computed at export from the uploaded audio) or "device" (the device's uploaded MFCCs).</param>
/// <param name="Sequence">The report's per-device outbox sequence.</param>
/// <param name="DeviceClipId">The id of the clip the device uploaded (several windows cut from one clip share it).</param>
public sealed record FieldLineage(string DeviceId, DateTimeOffset CapturedUtc, string Kind, string ModelVersion, double DeviceScore, string FeatureSource, long Sequence,
    string DeviceClipId);

/// <summary>Values of <see cref="FieldLineage.Kind"/>.</summary>
public static class FieldClipKinds
{
    /// <summary>A detection's clip (the device fired).</summary>
    public const string Trigger = "trigger";

    /// <summary>A near miss's clip (the score peaked in the band below the threshold; the device did not fire).</summary>
    public const string NearMiss = "nearMiss";
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

/// <summary>
/// The leakage check of the dataset format: no speaker, source recording or augmented twin in two splits (speaker-independent
/// splits); or, for a time split of the same devices, where every device is in every split by design, no clip, source recording
/// or augmented twin in two splits (<see cref="ByRecording"/>).
/// </summary>
public static class LeakageCheck
{
    /// <summary>The speaker-independent checks, as written into dataset.json (the default).</summary>
    public static IReadOnlyList<string> Checked { get; } = ["speaker", "sourceRecording", "augmentedFrom"];

    /// <summary>The checks of a time split of the same speakers (devices): by clip, source recording and augmented twin.</summary>
    public static IReadOnlyList<string> ByRecording { get; } = ["clip", "sourceRecording", "augmentedFrom"];

    /// <summary>Finds every leak of the speaker-independent checks (empty when the splits are clean).</summary>
    public static IReadOnlyList<Leak> Find(IReadOnlyList<DatasetExample> examples) => Find(examples, Checked);

    /// <summary>Finds every leak of <paramref name="checks"/> (a subset of speaker, clip, sourceRecording, augmentedFrom).</summary>
    public static IReadOnlyList<Leak> Find(IReadOnlyList<DatasetExample> examples, IReadOnlyList<string> checks)
    {
        ArgumentNullException.ThrowIfNull(checks);
        foreach (string c in checks)
        {
            if (c is not ("speaker" or "clip" or "sourceRecording" or "augmentedFrom"))
            {
                throw new ArgumentException($"unknown leakage check '{c}' (speaker, clip, sourceRecording, augmentedFrom)", nameof(checks));
            }
        }
        var leaks = new List<Leak>();
        if (checks.Contains("speaker"))
        {
            Check("speaker", e => e.Speaker);
        }
        if (checks.Contains("clip"))
        {
            // An uploaded device clip is keyed by its device and clip id, so the check holds when several windows are cut from one clip;
            // other examples by their (unique) example id.
            Check("clip", e => e.Field is { } f ? f.DeviceId + "/" + f.DeviceClipId : e.ClipId);
        }
        if (checks.Contains("sourceRecording"))
        {
            Check("sourceRecording", e => e.SourceRecording);
        }
        if (checks.Contains("augmentedFrom"))
        {
            // Twins: an augmented example, the example it came from, and its other twins share a group.
            Check("augmentedFrom", e => e.AugmentedFrom ?? (examples.Any(x => x.AugmentedFrom == e.ClipId) ? e.ClipId : null));
        }
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

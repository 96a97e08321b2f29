using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.ModelLoop.Datasets;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// Was the held-out field slice trained on? A fine-tune judged on clips it learnt from would look better than it is, so the gate
/// refuses when any dataset the candidate trained on holds a clip of the slice, found two ways: by identity (lineage
/// <c>sourceRecording</c> / <c>clipId</c> of the train split equal to a slice clip's) and by content (a train window whose MFCC
/// bytes equal a slice window's: the same audio under another name). The datasets trained on are the training manifest's
/// <c>trainedOnDatasetIds</c> (or its <c>datasetId</c>); each must be one the job can read, else the slice cannot be shown to be
/// held out and the check fails too.
/// </summary>
public static class FieldSliceLeakage
{
    /// <summary>Name of the rule in the gate's checks.</summary>
    public const string CheckName = "held-out slice never trained on";

    /// <summary>Checks the candidate's training data (<paramref name="trainingManifestPath"/>) against the slice of
    /// <paramref name="fieldDatasetDirectory"/>; <paramref name="readableDatasets"/> are the dataset directories the job gave the trainer.</summary>
    public static GateCheck Check(string trainingManifestPath, string fieldDatasetDirectory, IReadOnlyList<string> readableDatasets)
    {
        ArgumentNullException.ThrowIfNull(readableDatasets);
        FieldSlice slice = FieldSlice.Load(fieldDatasetDirectory);
        var sliceIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (LineageRow r in LineageRow.Read(fieldDatasetDirectory, FieldSlice.SplitName))
        {
            sliceIds.Add(r.Recording);
            sliceIds.Add(r.ClipId);
        }
        DatasetInfo fieldInfo = DatasetInfo.Load(fieldDatasetDirectory);
        HashSet<string> sliceWindows = WindowHashes(fieldDatasetDirectory, fieldInfo, FieldSlice.SplitName);

        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string dir in readableDatasets)
        {
            byId[DatasetInfo.Load(dir).DatasetId!] = dir;
        }
        var problems = new List<string>();
        var checkedIds = new List<string>();
        foreach (string id in TrainedOn(trainingManifestPath))
        {
            if (!byId.TryGetValue(id, out string? dir))
            {
                problems.Add($"trained on dataset {id}, whose lineage this job cannot read: the slice cannot be shown to be held out");
                continue;
            }
            checkedIds.Add(id);
            var byName = LineageRow.Read(dir, "train").Where(r => sliceIds.Contains(r.Recording) || sliceIds.Contains(r.ClipId))
                .Select(r => r.Recording).Distinct(StringComparer.Ordinal).ToList();
            if (byName.Count > 0)
                problems.Add(F($"dataset {id}'s train split holds {byName.Count} held-out clip(s): {string.Join(", ", byName.Take(5))}{(byName.Count > 5 ? ", ..." : "")}"));
            DatasetInfo info = DatasetInfo.Load(dir);
            if (info.Splits!.TryGetValue("train", out SplitInfo? train) && train.Count > 0)
            {
                int same = WindowHashes(dir, info, "train").Count(sliceWindows.Contains);
                if (same > 0)
                    problems.Add(F($"dataset {id}'s train split holds {same} window(s) with exactly the features of held-out windows (the same audio under another name)"));
            }
        }
        return new GateCheck
        {
            Name = CheckName,
            Passed = problems.Count == 0,
            Detail = problems.Count == 0
                ? F($"none of the {slice.Clips.Count} held-out clips ({sliceWindows.Count} windows) is in the train split of {string.Join(", ", checkedIds)}, by id or by content")
                : "leakage: " + string.Join("; ", problems),
        };
    }

    /// <summary>The dataset ids a training manifest says it trained on.</summary>
    public static IReadOnlyList<string> TrainedOn(string trainingManifestPath)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(trainingManifestPath));
        JsonElement root = doc.RootElement;
        if (root.TryGetProperty("trainedOnDatasetIds", out JsonElement ids) && ids.ValueKind == JsonValueKind.Array)
            return [.. ids.EnumerateArray().Select(e => e.GetString() ?? throw new InvalidDataException($"{trainingManifestPath}: trainedOnDatasetIds holds a non-string"))];
        return [root.GetProperty("datasetId").GetString() ?? throw new InvalidDataException($"{trainingManifestPath}: 'datasetId' is missing")];
    }

    private static HashSet<string> WindowHashes(string dir, DatasetInfo info, string split)
    {
        var hashes = new HashSet<string>(StringComparer.Ordinal);
        if (!info.Splits!.TryGetValue(split, out SplitInfo? s) || s.Count == 0) return hashes;
        FeatureSplit x = FeatureSplit.Load(dir, info, split);
        byte[] buffer = new byte[x.WindowValues * sizeof(float)];
        for (int i = 0; i < x.Count; i++)
        {
            Buffer.BlockCopy(x.Features, i * buffer.Length, buffer, 0, buffer.Length);
            hashes.Add(Convert.ToHexString(SHA256.HashData(buffer)));
        }
        return hashes;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

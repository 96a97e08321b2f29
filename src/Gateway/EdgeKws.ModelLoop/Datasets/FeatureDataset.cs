using System.Text.Json;
using System.Text.Json.Serialization;

using EdgeKws.ModelLoop.Manifests;

namespace EdgeKws.ModelLoop.Datasets;

/// <summary>The parts of <c>dataset.json</c> (edgekws-dataset/1, docs/dataset-format.md) the model loop reads.</summary>
public sealed class DatasetInfo
{
    public const string FormatVersionName = "edgekws-dataset/1";

    public string? FormatVersion { get; init; }
    public string? DatasetId { get; init; }
    public string? FeatureConfigHash { get; init; }
    public string? FeatureConfig { get; init; }
    public int WindowFrames { get; init; }
    public int Coefficients { get; init; }
    public string[]? Classes { get; init; }
    public Dictionary<string, SplitInfo>? Splits { get; init; }

    /// <summary>Reads and checks <c>dataset.json</c> in <paramref name="datasetDirectory"/>.</summary>
    public static DatasetInfo Load(string datasetDirectory)
    {
        string path = Path.Combine(datasetDirectory, "dataset.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no dataset.json in {datasetDirectory} (expected an {FormatVersionName} directory)", path);
        var info = JsonSerializer.Deserialize(File.ReadAllBytes(path), ModelLoopJsonContext.Default.DatasetInfo)
                   ?? throw new InvalidDataException($"{path} is JSON null");
        if (info.FormatVersion != FormatVersionName)
            throw new InvalidDataException($"{path}: formatVersion is '{info.FormatVersion}', expected '{FormatVersionName}'");
        if (string.IsNullOrEmpty(info.DatasetId) || string.IsNullOrEmpty(info.FeatureConfigHash) || info.Classes is null || info.Splits is null)
            throw new InvalidDataException($"{path}: datasetId, featureConfigHash, classes and splits are required");
        if (info.WindowFrames <= 0 || info.Coefficients <= 0)
            throw new InvalidDataException($"{path}: windowFrames and coefficients must be positive, got {info.WindowFrames} x {info.Coefficients}");
        return info;
    }
}

public sealed class SplitInfo
{
    public int Count { get; init; }
}

/// <summary>One split of a dataset: <see cref="Count"/> windows of [frames x coefficients] float MFCCs and their labels.</summary>
public sealed class FeatureSplit
{
    public FeatureSplit(float[] features, long[] labels, int windowFrames, int coefficients)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (windowFrames <= 0 || coefficients <= 0) throw new ArgumentException("window geometry must be positive");
        if (features.Length != (long)labels.Length * windowFrames * coefficients)
            throw new ArgumentException($"{features.Length} feature values do not make {labels.Length} windows of {windowFrames} x {coefficients}");
        Features = features;
        Labels = labels;
        WindowFrames = windowFrames;
        Coefficients = coefficients;
    }

    public float[] Features { get; }
    public long[] Labels { get; }
    public int WindowFrames { get; }
    public int Coefficients { get; }
    public int Count => Labels.Length;
    public int WindowValues => WindowFrames * Coefficients;

    /// <summary>The features of window <paramref name="index"/>, frame-major.</summary>
    public ReadOnlyMemory<float> Window(int index) => Features.AsMemory(index * WindowValues, WindowValues);

    /// <summary>Loads <c>{split}.features.npy</c> and <c>{split}.labels.npy</c>, checking them against <c>dataset.json</c>.</summary>
    public static FeatureSplit Load(string datasetDirectory, DatasetInfo info, string split)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.Splits is null || !info.Splits.TryGetValue(split, out var splitInfo))
            throw new InvalidDataException($"dataset {info.DatasetId} has no '{split}' split (has: {string.Join(", ", info.Splits?.Keys.ToArray() ?? [])})");
        var (x, xs) = NpyFile.ReadFloat32(Path.Combine(datasetDirectory, $"{split}.features.npy"));
        var (y, ys) = NpyFile.ReadInt64(Path.Combine(datasetDirectory, $"{split}.labels.npy"));
        if (xs.Length != 3 || xs[1] != info.WindowFrames || xs[2] != info.Coefficients)
            throw new InvalidDataException($"{split}.features.npy has shape [{string.Join(", ", xs)}], expected [N, {info.WindowFrames}, {info.Coefficients}]");
        if (ys.Length != 1 || ys[0] != xs[0] || xs[0] != splitInfo.Count)
            throw new InvalidDataException($"{split}: {xs[0]} windows, {(ys.Length == 1 ? ys[0] : -1)} labels, dataset.json says {splitInfo.Count}");
        return new FeatureSplit(x, y, info.WindowFrames, info.Coefficients);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(DatasetInfo))]
[JsonSerializable(typeof(TrainingManifest))]
[JsonSerializable(typeof(Quantization.QuantizationReport))]
public sealed partial class ModelLoopJsonContext : JsonSerializerContext;

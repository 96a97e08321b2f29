using System.Text.Json;
using EdgeKws.ModelLoop.Datasets;

namespace EdgeKws.ModelLoop.Manifests;

/// <summary>
/// The fields of <c>training-manifest.json</c> (written by tools/train/train.py, format
/// <c>edgekws-training/1</c>) that quantization and the device manifest need. The file holds more
/// (hyperparameters, metrics, history); it is kept next to the model as the lineage record.
/// </summary>
public sealed class TrainingManifest
{
    public const string FormatVersionName = "edgekws-training/1";

    public string? FormatVersion { get; init; }
    public string? DatasetId { get; init; }
    public string? FeatureConfigHash { get; init; }
    public string? FeatureConfig { get; init; }
    public string[]? Classes { get; init; }
    public string? CodeCommit { get; init; }
    public int Seed { get; init; }
    public float SuggestedThreshold { get; init; }
    public int WindowFrames { get; init; }
    public int Coefficients { get; init; }
    public TrainedOnnx? Onnx { get; init; }

    public static TrainingManifest Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"training manifest not found: {path}", path);
        var m = JsonSerializer.Deserialize(File.ReadAllBytes(path), ModelLoopJsonContext.Default.TrainingManifest)
                ?? throw new InvalidDataException($"{path} is JSON null");
        if (m.FormatVersion != FormatVersionName)
            throw new InvalidDataException($"{path}: formatVersion is '{m.FormatVersion}', expected '{FormatVersionName}'");
        if (string.IsNullOrEmpty(m.DatasetId) || string.IsNullOrEmpty(m.FeatureConfigHash) || m.Classes is null || m.Onnx?.Input?.Name is null || m.Onnx.Output?.Name is null)
            throw new InvalidDataException($"{path}: datasetId, featureConfigHash, classes, onnx.input.name and onnx.output.name are required");
        return m;
    }
}

public sealed class TrainedOnnx
{
    public string? File { get; init; }
    public string? Sha256 { get; init; }
    public long SizeBytes { get; init; }
    public TrainedTensor? Input { get; init; }
    public TrainedTensor? Output { get; init; }
}

public sealed class TrainedTensor
{
    public string? Name { get; init; }
    public int[]? Shape { get; init; }
}

using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Security;

namespace EdgeKws.Gateway.Training;

/// <summary>Where a job's inputs are on the server (resolved from the request's names; never shown to or taken from the API).</summary>
/// <param name="DatasetDirectory">Train: the dataset directory.</param>
/// <param name="EvaluationSetPath">The evaluation streams file.</param>
/// <param name="ManifestPath">Register: the INT8 manifest.</param>
/// <param name="TrainingManifestPath">Register: the training manifest.</param>
/// <param name="FloatModelPath">Register: the float ONNX, when given or found beside the training manifest.</param>
/// <param name="ReplayDatasetDirectory">FineTune: the replayed base dataset.</param>
/// <param name="OperatingPointSetPath">FineTune: the streams the candidate's threshold is matched on.</param>
internal sealed record ModelJobInputs(string? DatasetDirectory, string EvaluationSetPath, string? ManifestPath, string? TrainingManifestPath,
    string? FloatModelPath = null, string? ReplayDatasetDirectory = null, string? OperatingPointSetPath = null)
{
    /// <summary>
    /// The request's names resolved in the gateway's directories, or the first problem (naming the field). Every name's form is
    /// checked before any file is looked at, so what a refusal says never depends on what exists outside those directories.
    /// </summary>
    public static string? Resolve(ModelJobRequest r, ModelLoopOptions options, string datasetDirectory, out ModelJobInputs? inputs)
    {
        inputs = null;
        bool train = r.Kind is ModelJobKind.Train or ModelJobKind.FineTune;
        if (!ServerName.TryResolve(options.EvaluationSetDirectory, r.EvaluationSet, "evaluationSet", "Gateway:Models:EvaluationSetDirectory", out string streams, out string problem))
            return problem;
        string dataset = string.Empty, manifest = string.Empty, training = string.Empty;
        if (train)
        {
            if (!ServerName.TryResolve(datasetDirectory, r.Dataset, "dataset", "Gateway:Labeling:DatasetDirectory", out dataset, out problem)) return problem;
        }
        else
        {
            if (!ServerName.TryResolve(options.ImportDirectory, r.Manifest, "manifest", "Gateway:Models:ImportDirectory", out manifest, out problem)) return problem;
            if (!ServerName.TryResolve(options.ImportDirectory, r.TrainingManifest, "trainingManifest", "Gateway:Models:ImportDirectory", out training, out problem))
                return problem;
        }
        string? floatModel = null, replay = null, operatingPoint = null;
        if (r.FloatModel is not null)
        {
            if (train) return "floatModel belongs to Register jobs (Train and FineTune jobs keep the weights they train)";
            if (!ServerName.TryResolve(options.ImportDirectory, r.FloatModel, "floatModel", "Gateway:Models:ImportDirectory", out string f, out problem)) return problem;
            floatModel = f;
        }
        if (r.ReplayDataset is not null)
        {
            if (!ServerName.TryResolve(options.ImportDirectory, r.ReplayDataset, "replayDataset", "Gateway:Models:ImportDirectory", out string d, out problem)) return problem;
            replay = d;
        }

        if (r.OperatingPointSet is not null)
        {
            if (!ServerName.TryResolve(options.EvaluationSetDirectory, r.OperatingPointSet, "operatingPointSet", "Gateway:Models:EvaluationSetDirectory", out string o, out problem))
                return problem;
            operatingPoint = o;
        }

        if (!File.Exists(streams)) return $"evaluationSet '{r.EvaluationSet}' is not a file under Gateway:Models:EvaluationSetDirectory";
        if (operatingPoint is not null && !File.Exists(operatingPoint))
            return $"operatingPointSet '{r.OperatingPointSet}' is not a file under Gateway:Models:EvaluationSetDirectory";
        if (operatingPoint is not null && (Path.GetFullPath(operatingPoint) == Path.GetFullPath(streams) || SameContent(operatingPoint, streams)))
            return "operatingPointSet must not be the evaluationSet: the gate would judge the candidate on the streams its threshold was chosen on";
        if (train)
        {
            if (!File.Exists(Path.Combine(dataset, "dataset.json")))
                return $"dataset '{r.Dataset}' is not an exported dataset under Gateway:Labeling:DatasetDirectory (no dataset.json)";
            if (replay is not null && !File.Exists(Path.Combine(replay, "dataset.json")))
                return $"replayDataset '{r.ReplayDataset}' is not an exported dataset under Gateway:Models:ImportDirectory (no dataset.json)";
            inputs = new ModelJobInputs(dataset, streams, null, null, ReplayDatasetDirectory: replay, OperatingPointSetPath: operatingPoint);
            return null;
        }
        if (!File.Exists(manifest)) return $"manifest '{r.Manifest}' is not a file under Gateway:Models:ImportDirectory";
        if (!File.Exists(training)) return $"trainingManifest '{r.TrainingManifest}' is not a file under Gateway:Models:ImportDirectory";
        if (floatModel is not null && !File.Exists(floatModel)) return $"floatModel '{r.FloatModel}' is not a file under Gateway:Models:ImportDirectory";
        inputs = new ModelJobInputs(null, streams, manifest, training, floatModel ?? FloatWeightsBeside(training));
        return null;
    }

    /// <summary>Two files with the same bytes (a copy or a link of one streams file under another name).</summary>
    private static bool SameContent(string a, string b) =>
        new FileInfo(a).Length == new FileInfo(b).Length
        && System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(a)).AsSpan().SequenceEqual(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(b)));

    /// <summary>The float ONNX a training manifest's directory holds for it: <c>STEM.float.onnx</c> beside <c>STEM.training-manifest.json</c>
    /// (how models/default keeps it), else the manifest's own <c>onnx.file</c> (how train.py writes it); null when neither exists.</summary>
    internal static string? FloatWeightsBeside(string trainingManifestPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(trainingManifestPath))!;
        string name = Path.GetFileName(trainingManifestPath);
        const string Suffix = ".training-manifest.json";
        if (name.EndsWith(Suffix, StringComparison.Ordinal) && Path.Combine(dir, name[..^Suffix.Length] + ".float.onnx") is var stem && File.Exists(stem))
        {
            return stem;
        }
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(trainingManifestPath));
            if (doc.RootElement.TryGetProperty("onnx", out var onnx) && onnx.TryGetProperty("file", out var file) && file.GetString() is { } f
                && f == Path.GetFileName(f) && File.Exists(Path.Combine(dir, f)))
            {
                return Path.Combine(dir, f);
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Registration reads the manifest again and reports what is wrong with it.
        }
        return null;
    }
}

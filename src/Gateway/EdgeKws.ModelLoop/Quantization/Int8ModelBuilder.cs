using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.Detection;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Manifests;

namespace EdgeKws.ModelLoop.Quantization;

/// <summary>Options of one quantization job. Streaming parameters go into the device manifest.</summary>
public sealed record Int8BuildOptions
{
    public required string ModelId { get; init; }
    public required string ModelVersion { get; init; }
    public string? ParentVersion { get; init; }
    /// <summary>Fixed so that rebuilding gives the same manifest; defaults to now.</summary>
    public DateTimeOffset? CreatedUtc { get; init; }
    public CalibrationMethod Method { get; init; } = CalibrationMethod.Percentile;
    public double Percentile { get; init; } = 99.99;
    public int MaxCalibrationWindows { get; init; } = 512;
    public QuantizedInput Input { get; init; } = QuantizedInput.Int8;
    /// <summary>Index of the keyword class the device fires on; defaults to 1 (the first keyword).</summary>
    public int KeywordIndex { get; init; } = 1;
    /// <summary>Detection threshold; defaults to the training manifest's suggested threshold.</summary>
    public float? Threshold { get; init; }
    public int StrideFrames { get; init; } = 10;
    public int SmoothingFrames { get; init; } = 30;
    public int RefractoryMs { get; init; } = 1000;
    public int FrameHopMs { get; init; } = 10;
    public long MaxModelBytes { get; init; } = KeywordModel.DefaultMaxModelBytes;
}

/// <summary>
/// The gateway's quantization job: float ONNX + training manifest + dataset in; INT8 QDQ model,
/// device manifest and quantization report out. Calibrates on the training split (the windows the
/// model was fitted to, never the test split), evaluates float vs INT8 on the test split (else
/// validation), and refuses to emit a model the device would refuse: the result is loaded through
/// <see cref="KeywordModel.TryLoad(string, string, long, out KeywordModel?, out string)"/> and
/// <see cref="KeywordDetector.TryCreate"/> before the job returns.
/// </summary>
public static class Int8ModelBuilder
{
    public static QuantizationReport Build(string floatModelPath, string trainingManifestPath, string datasetDirectory,
        string outputDirectory, Int8BuildOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var training = TrainingManifest.Load(trainingManifestPath);
        var dataset = DatasetInfo.Load(datasetDirectory);
        CheckCompatible(training, dataset, options);
        byte[] floatModel = File.ReadAllBytes(floatModelPath);
        var calibration = FeatureSplit.Load(datasetDirectory, dataset, "train");
        string evalSplitName = dataset.Splits!.ContainsKey("test") ? "test" : "validation";
        var evaluation = FeatureSplit.Load(datasetDirectory, dataset, evalSplitName);
        return Emit(floatModel, training, dataset, calibration, evaluation, evalSplitName, outputDirectory, options, recalibratedFrom: null);
    }

    /// <summary>
    /// Field re-calibration: the float graph of a shipped QDQ INT8 model (<see cref="QdqDequantizer"/>; its
    /// weights exactly) is quantized again with activation ranges from <paramref name="datasetDirectory"/>
    /// (e.g. clips the fleet heard). No training happens, so every split of the dataset calibrates, and the
    /// float-vs-INT8 comparison runs on the same windows (split "all"). Beside the model it writes
    /// <c>ID-V.training-manifest.json</c>: the parent's training manifest (the model was trained on the
    /// parent's <c>datasetId</c>, which stays) with <c>calibrationDatasetId</c>, <c>recalibratedFrom</c> and
    /// <c>recalibration</c> ("re-calibrated on DATASET") added. The device manifest's <c>parentVersion</c>
    /// is the parent's version, and threshold (unless <see cref="Int8BuildOptions.Threshold"/> is given),
    /// stride, smoothing, refractory period and frame hop are the parent's.
    /// </summary>
    /// <param name="parentManifestPath">The shipped model's device manifest (<c>*.int8.manifest.json</c>); the model file lies beside it.</param>
    /// <param name="parentTrainingManifestPath">Its training manifest (lineage; classes and feature config are checked against the dataset).</param>
    public static QuantizationReport Recalibrate(string parentManifestPath, string parentTrainingManifestPath, string datasetDirectory,
        string outputDirectory, Int8BuildOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(parentManifestPath)) throw new FileNotFoundException($"parent model manifest not found: {parentManifestPath}", parentManifestPath);
        if (!ModelManifest.TryParse(File.ReadAllBytes(parentManifestPath), out var parent, out string why))
            throw new InvalidDataException($"{parentManifestPath}: {why}");
        if (parent!.FileName is null || parent.ModelVersion is null || parent.Sha256 is null)
            throw new InvalidDataException($"{parentManifestPath}: fileName, modelVersion and sha256 are required");
        string parentModelPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(parentManifestPath))!, parent.FileName);
        byte[] int8 = File.ReadAllBytes(parentModelPath);
        string sha = Convert.ToHexStringLower(SHA256.HashData(int8));
        if (!string.Equals(sha, parent.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{parentModelPath}: SHA-256 {sha} differs from the manifest's {parent.Sha256}");
        if (!string.Equals(parent.Input?.ElementType, options.Input == QuantizedInput.Int8 ? ModelInputSpec.Int8Name : ModelInputSpec.FloatName, StringComparison.Ordinal))
            options = options with { Input = parent.Input?.ElementType == ModelInputSpec.FloatName ? QuantizedInput.Float : QuantizedInput.Int8 };

        var training = TrainingManifest.Load(parentTrainingManifestPath);
        var dataset = DatasetInfo.Load(datasetDirectory);
        CheckCompatible(training, dataset, options);
        if (!string.Equals(parent.FeatureConfigHash, training.FeatureConfigHash, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{parentManifestPath} has feature config {parent.FeatureConfigHash} but its training manifest {training.FeatureConfigHash}");

        byte[] floatModel = QdqDequantizer.Dequantize(int8);
        var all = ConcatSplits(datasetDirectory, dataset);
        options = options with
        {
            ParentVersion = parent.ModelVersion,
            Threshold = options.Threshold ?? parent.Threshold,
            StrideFrames = parent.StrideFrames ?? options.StrideFrames,
            SmoothingFrames = parent.SmoothingFrames ?? options.SmoothingFrames,
            RefractoryMs = parent.RefractoryMs ?? options.RefractoryMs,
            FrameHopMs = parent.FrameHopMs ?? options.FrameHopMs,
        };
        var report = Emit(floatModel, training, dataset, all, all, "all", outputDirectory, options, recalibratedFrom: parent);

        // Lineage: the parent's training manifest, carried over, saying what changed.
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(parentTrainingManifestPath))!.AsObject();
        json["calibrationDatasetId"] = dataset.DatasetId;
        json["recalibratedFrom"] = new System.Text.Json.Nodes.JsonObject
        {
            ["modelVersion"] = parent.ModelVersion,
            ["sha256"] = parent.Sha256,
        };
        json["recalibration"] = $"re-calibrated on {dataset.DatasetId} ({report.CalibrationWindows} windows, {report.Method}) from {parent.ModelId} {parent.ModelVersion}";
        File.WriteAllText(Path.Combine(outputDirectory, $"{options.ModelId}-{options.ModelVersion}.training-manifest.json"),
            json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return report;
    }

    /// <summary>The training manifest written beside a re-calibrated model by <see cref="Recalibrate"/>.</summary>
    public static string TrainingManifestPath(string outputDirectory, string modelId, string modelVersion) =>
        Path.Combine(outputDirectory, $"{modelId}-{modelVersion}.training-manifest.json");

    /// <summary>
    /// The version of a field re-calibration of <paramref name="parentVersion"/>: the next patch release as a
    /// pre-release, <c>MAJOR.MINOR.(PATCH+1)-field.TAG</c> (1.0.0 -> 1.0.1-field.1; 1.0.1-field.1 -> 1.0.2-field.1),
    /// so it sorts above its parent in SemVer and says where it came from; the next trained release bumps the minor.
    /// </summary>
    public static string FieldVersion(string parentVersion, string tag = "1")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(parentVersion);
        string[] core = parentVersion.Split('-', 2)[0].Split('+', 2)[0].Split('.');
        if (core.Length != 3 || !core.All(p => int.TryParse(p, out _)))
            throw new ArgumentException($"parent version '{parentVersion}' is not MAJOR.MINOR.PATCH[-...]; give the version explicitly");
        return $"{core[0]}.{core[1]}.{int.Parse(core[2]) + 1}-field.{tag}";
    }

    private static void CheckCompatible(TrainingManifest training, DatasetInfo dataset, Int8BuildOptions options)
    {
        if (!string.Equals(training.FeatureConfigHash, dataset.FeatureConfigHash, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"the model was trained on feature config {training.FeatureConfigHash} but dataset {dataset.DatasetId} has {dataset.FeatureConfigHash}; calibrating on different features would be wrong");
        if (dataset.Classes is null || !dataset.Classes.SequenceEqual(training.Classes!))
            throw new InvalidDataException($"dataset classes [{string.Join(", ", dataset.Classes ?? [])}] differ from the model's [{string.Join(", ", training.Classes!)}]");
        if (options.KeywordIndex <= 0 || options.KeywordIndex >= training.Classes!.Length)
            throw new ArgumentException($"keyword index {options.KeywordIndex} must name a keyword class (1..{training.Classes!.Length - 1})");
    }

    /// <summary>Every non-empty split of the dataset as one set of windows (in split-name order, so the result is deterministic).</summary>
    private static FeatureSplit ConcatSplits(string datasetDirectory, DatasetInfo dataset)
    {
        var splits = (dataset.Splits ?? []).Where(kv => kv.Value.Count > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => FeatureSplit.Load(datasetDirectory, dataset, kv.Key)).ToList();
        if (splits.Count == 0) throw new InvalidDataException($"dataset {dataset.DatasetId} has no windows to calibrate on");
        return new FeatureSplit([.. splits.SelectMany(s => s.Features)], [.. splits.SelectMany(s => s.Labels)], dataset.WindowFrames, dataset.Coefficients);
    }

    private static QuantizationReport Emit(byte[] floatModel, TrainingManifest training, DatasetInfo dataset, FeatureSplit calibration,
        FeatureSplit evaluation, string evalSplitName, string outputDirectory, Int8BuildOptions options, ModelManifest? recalibratedFrom)
    {
        var ranges = ActivationCalibrator.Calibrate(floatModel, calibration, options.Method, options.Percentile, options.MaxCalibrationWindows);
        var quantized = QdqQuantizer.Quantize(floatModel, ranges, options.Input);

        Directory.CreateDirectory(outputDirectory);
        string fileName = $"{options.ModelId}-{options.ModelVersion}.int8.onnx";
        string modelPath = Path.Combine(outputDirectory, fileName);
        File.WriteAllBytes(modelPath, quantized.Bytes);
        if (quantized.Bytes.Length > options.MaxModelBytes)
            throw new InvalidDataException($"the INT8 model is {quantized.Bytes.Length} bytes, over the {options.MaxModelBytes}-byte budget; train a narrower model (--channels/--blocks)");

        var floatPosteriors = WindowScorer.Score(floatModel, evaluation);
        var int8Posteriors = WindowScorer.Score(quantized.Bytes, evaluation,
            quantized.InputType == QuantizedInput.Int8 ? quantized.InputQuantization : null);
        int classes = training.Classes!.Length;
        int agree = 0;
        double maxDiff = 0, sumDiff = 0;
        for (int i = 0; i < evaluation.Count; i++)
        {
            var f = floatPosteriors.AsSpan(i * classes, classes);
            var q = int8Posteriors.AsSpan(i * classes, classes);
            if (WindowScorer.ArgMax(f) == WindowScorer.ArgMax(q)) agree++;
            for (int c = 0; c < classes; c++)
            {
                double d = Math.Abs(f[c] - q[c]);
                maxDiff = Math.Max(maxDiff, d);
                sumDiff += d;
            }
        }

        var manifest = new ModelManifest
        {
            SchemaVersion = ModelManifest.CurrentSchemaVersion,
            ModelId = options.ModelId,
            ModelVersion = options.ModelVersion,
            ParentVersion = options.ParentVersion,
            CreatedUtc = (options.CreatedUtc ?? DateTimeOffset.UtcNow).ToUniversalTime(),
            FileName = fileName,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(quantized.Bytes)),
            SizeBytes = quantized.Bytes.Length,
            Input = new ModelInputSpec
            {
                Name = quantized.InputName,
                Shape = [1, 1, dataset.WindowFrames, dataset.Coefficients],
                ElementType = quantized.InputType == QuantizedInput.Int8 ? ModelInputSpec.Int8Name : ModelInputSpec.FloatName,
                QuantScale = quantized.InputType == QuantizedInput.Int8 ? quantized.InputQuantization.Scale : null,
                QuantZeroPoint = quantized.InputType == QuantizedInput.Int8 ? quantized.InputQuantization.ZeroPoint : null,
            },
            OutputName = quantized.OutputName,
            Labels = training.Classes,
            KeywordIndex = options.KeywordIndex,
            WindowFrames = dataset.WindowFrames,
            StrideFrames = options.StrideFrames,
            FrameHopMs = options.FrameHopMs,
            Threshold = options.Threshold ?? (training.SuggestedThreshold > 0 ? training.SuggestedThreshold : 0.5f),
            SmoothingFrames = options.SmoothingFrames,
            RefractoryMs = options.RefractoryMs,
            FeatureConfigHash = training.FeatureConfigHash!.ToLowerInvariant(),
        };
        string manifestFile = Path.ChangeExtension(fileName, null) + ".manifest.json";
        string manifestPath = Path.Combine(outputDirectory, manifestFile);
        File.WriteAllText(manifestPath, manifest.ToJson());

        if (!KeywordModel.TryLoad(manifestPath, manifest.FeatureConfigHash, options.MaxModelBytes, out var loaded, out string reason))
            throw new InvalidDataException($"the device would refuse the quantized model: {reason}");
        if (!KeywordDetector.TryCreate(loaded!, null, out var detector, out reason))
            throw new InvalidDataException($"the device cannot build a detector from the quantized model: {reason}");
        detector!.Dispose();

        var report = new QuantizationReport
        {
            ModelFile = fileName,
            ManifestFile = manifestFile,
            Sha256 = manifest.Sha256,
            DatasetId = dataset.DatasetId!,
            FeatureConfigHash = manifest.FeatureConfigHash,
            Method = options.Method.ToString(),
            Percentile = options.Method == CalibrationMethod.Percentile ? options.Percentile : null,
            CalibrationWindows = Math.Min(calibration.Count, options.MaxCalibrationWindows),
            InputElementType = manifest.Input.ElementType!,
            InputScale = quantized.InputQuantization.Scale,
            InputZeroPoint = quantized.InputQuantization.ZeroPoint,
            QuantizedWeightTensors = quantized.QuantizedWeightTensors,
            QuantizedActivations = quantized.QuantizedActivations,
            FusedRelus = quantized.FusedActivations,
            FloatSizeBytes = floatModel.Length,
            Int8SizeBytes = quantized.Bytes.Length,
            EvaluationSplit = evalSplitName,
            EvaluationWindows = evaluation.Count,
            FloatAccuracy = WindowScorer.Accuracy(floatPosteriors, evaluation.Labels),
            Int8Accuracy = WindowScorer.Accuracy(int8Posteriors, evaluation.Labels),
            ArgMaxAgreement = evaluation.Count == 0 ? double.NaN : agree / (double)evaluation.Count,
            MaxAbsPosteriorDifference = maxDiff,
            MeanAbsPosteriorDifference = evaluation.Count == 0 ? double.NaN : sumDiff / (evaluation.Count * (double)classes),
            RecalibratedFrom = recalibratedFrom is null ? null : $"{recalibratedFrom.ModelId} {recalibratedFrom.ModelVersion} ({recalibratedFrom.Sha256})",
            MaxAbsWeightCode = Onnx.OnnxTensors.MaxAbsWeightCode(quantized.Bytes),
        };
        File.WriteAllText(Path.Combine(outputDirectory, Path.ChangeExtension(fileName, null) + ".quantization-report.json"),
            JsonSerializer.Serialize(report, ModelLoopJsonContext.Default.QuantizationReport));
        return report;
    }
}

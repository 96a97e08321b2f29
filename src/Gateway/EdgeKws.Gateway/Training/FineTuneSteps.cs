using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Gateway.Training;

/// <summary>
/// The steps only a <see cref="ModelJobKind.FineTune"/> job has (docs/model-loop.md, "Fine-tuning from production"): start from a
/// registered model's float weights (checked against the SHA-256 registered with them and its training manifest), fine-tune on the
/// field dataset with a replay of the base dataset, quantize keeping the parent's detector settings, and after the base gate judge
/// the candidate on the field dataset's held-out slice and check the slice was never trained on. <see cref="ModelJobSteps"/> runs the
/// steps shared with Train and Register (evaluation on the base streams, base gate, sign, register).
/// </summary>
internal static class FineTuneSteps
{
    /// <summary>A fine-tuned, quantized candidate and where it came from.</summary>
    /// <param name="ManifestPath">Its INT8 device manifest.</param>
    /// <param name="TrainingManifestPath">Its training manifest (initFrom, replay, trainedOnDatasetIds).</param>
    /// <param name="FloatModelPath">Its float ONNX (kept in the registry: it can be fine-tuned again).</param>
    /// <param name="FieldDatasetDirectory">The field dataset (its test split is the held-out slice).</param>
    /// <param name="ReplayDatasetDirectory">The replayed base dataset, or null.</param>
    /// <param name="ParentVersion">The model it started from.</param>
    /// <param name="InitFromSha256">SHA-256 of the parent's float weights.</param>
    /// <param name="FieldDatasetId">The field dataset's id.</param>
    /// <param name="ReplayDatasetId">The replay dataset's id, or null.</param>
    /// <param name="Lineage">Set once the slice gate has run.</param>
    internal sealed record Tuned(string ManifestPath, string TrainingManifestPath, string FloatModelPath, string FieldDatasetDirectory, string? ReplayDatasetDirectory,
        string ParentVersion, string InitFromSha256, string FieldDatasetId, string? ReplayDatasetId, FineTuneLineage? Lineage = null);

    /// <summary>Fine-tunes and quantizes; throws (naming the step) when the parent has no usable float weights or a step fails.</summary>
    public static async Task<Tuned> TrainAndQuantizeAsync(ModelJobRequest r, ModelJobInputs inputs, RegisteredModel? production, ModelRegistry registry,
        ModelLoopOptions options, string trainerScript, string work, List<string> steps)
    {
        if (production is null)
        {
            throw new InvalidOperationException("fine-tune: no production model is registered: a fine-tune is gated against it (bootstrap one first)");
        }
        string parentVersion = r.ParentVersion ?? production.ModelVersion;
        if (!registry.Store.TryGetRegisteredModel(parentVersion, out RegisteredModel? parent))
        {
            throw new InvalidOperationException($"fine-tune: parentVersion '{parentVersion}' is not registered");
        }
        string field = inputs.DatasetDirectory!;
        // Before any training: the slice must exist and be playable (clips/ WAVs), else there is nothing to judge the candidate on.
        FieldSlice slice = FieldSlice.Load(field);
        if (slice.Clips.Count == 0)
        {
            throw new InvalidOperationException($"fine-tune: field dataset {slice.DatasetId} has an empty held-out slice");
        }

        var sw = Stopwatch.StartNew();
        string parentFloat = Path.Combine(work, "parent", "parent.float.onnx");
        FloatWeights weights = registry.ExportFloatWeights(parentVersion, parentFloat);
        string? parentOnnxSha = parent!.TrainingManifest.TryGetProperty("onnx", out JsonElement onnx) && onnx.TryGetProperty("sha256", out JsonElement s) ? s.GetString() : null;
        if (!string.Equals(parentOnnxSha, weights.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"fine-tune: '{parentVersion}''s float weights ({weights.Sha256}) are not the ones its training manifest names ({parentOnnxSha ?? "none"})");
        }

        string trained = Path.Combine(work, "trained");
        List<string> args = [trainerScript, "--dataset", field, "--out", trained, "--seed", r.Seed.ToString(CultureInfo.InvariantCulture), "--threads", "1",
            "--init-from", parentFloat, "--init-sha256", weights.Sha256, "--init-version", parentVersion];
        if (r.Tiny) args.Add("--tiny");
        if (r.Epochs is { } epochs) args.AddRange(["--epochs", epochs.ToString(CultureInfo.InvariantCulture)]);
        if (r.LearningRate is { } lr) args.AddRange(["--lr", lr.ToString("R", CultureInfo.InvariantCulture)]);
        if (inputs.ReplayDatasetDirectory is { } replay) args.AddRange(["--replay", replay]);
        // The parent's loss balance: its threshold was chosen for posteriors trained with it (another balance moves every posterior).
        if (ParentClassWeights(parent) is { } classWeights) args.AddRange(["--class-weights", classWeights]);
        // The parent's input normalisation, taken back out of conv1 for training: folded, conv1's weights are 1/std of their
        // trained size and Adam's steps rewrite them (docs/model-loop.md "Fine-tuning from production").
        if (ParentInputNormalisation(parent) is { } normalisation) args.Add("--init-input-normalisation=" + normalisation);
        if (r.ReplayWindowsPerEpoch is { } n) args.AddRange(["--replay-windows-per-epoch", n.ToString(CultureInfo.InvariantCulture)]);
        (int exit, string stdout, string stderr) = await ExternalProcess.RunAsync(options.Python, args, options.TrainTimeout, CancellationToken.None).ConfigureAwait(false);
        File.WriteAllText(Path.Combine(work, "train.log"), stdout + stderr);
        if (exit != 0)
        {
            throw new InvalidOperationException($"fine-tune: {options.Python} train.py exited with {exit}: {ModelJobSteps.Tail(stderr)}");
        }
        string trainingManifest = Path.Combine(trained, "training-manifest.json");
        string floatModel = Path.Combine(trained, "model.float.onnx");
        (double initDiff, string? replayId, int replayPerEpoch) = ReadLineage(trainingManifest, weights.Sha256);
        steps.Add(ModelJobSteps.Step("fine-tune", sw, string.Create(CultureInfo.InvariantCulture,
            $"from {parentVersion} ({weights.Sha256[..12]}, init check max |dp| {initDiff:0.##e0}), field {slice.DatasetId}, replay {replayId ?? "none"} ({replayPerEpoch}/epoch), seed {r.Seed}")));

        sw.Restart();
        // The parent's detector settings (threshold unless the request names one, smoothing, stride, refractory): the fine-tune
        // changes the weights; the operating point below may then raise the threshold, and the gate judges that deployed point.
        if (!registry.Store.TryGetModelPackage(parentVersion, out ModelPackage? parentPackage))
        {
            throw new InvalidOperationException($"fine-tune: '{parentVersion}' has no package");
        }
        using JsonDocument parentManifest = JsonDocument.Parse(parentPackage!.Manifest);
        JsonElement pm = parentManifest.RootElement;
        // Calibration: the replayed base training data when there is one (broad: the everyday audio of the fleet's rooms), else the
        // field dataset's training split. A field dataset is small and made of what devices uploaded (triggers and near misses):
        // ranges from it alone would clip activations of common audio.
        string calibration = inputs.ReplayDatasetDirectory ?? field;
        QuantizationReport q = Int8ModelBuilder.Build(floatModel, trainingManifest, calibration, Path.Combine(work, "int8"), new Int8BuildOptions
        {
            ModelId = parent.ModelId,
            ModelVersion = r.ModelVersion!,
            ParentVersion = parentVersion,
            Threshold = r.Threshold ?? pm.GetProperty("threshold").GetSingle(),
            SmoothingFrames = pm.GetProperty("smoothingFrames").GetInt32(),
            StrideFrames = pm.GetProperty("strideFrames").GetInt32(),
            RefractoryMs = pm.GetProperty("refractoryMs").GetInt32(),
        });
        steps.Add(ModelJobSteps.Step("quantize", sw, string.Create(CultureInfo.InvariantCulture,
            $"{q.Int8SizeBytes} B INT8, calibrated on {DatasetInfo.Load(calibration).DatasetId}, arg-max agreement {q.ArgMaxAgreement:P1}, threshold {(r.Threshold is null ? "the parent's" : "from the request")}")));
        string candidateManifest = Path.Combine(work, "int8", q.ManifestFile);
        if (r.Threshold is null && inputs.OperatingPointSetPath is { } operatingPointSet)
        {
            MatchProductionOperatingPoint(production, registry, candidateManifest, operatingPointSet, work, steps);
        }
        return new Tuned(candidateManifest, trainingManifest, floatModel, field, inputs.ReplayDatasetDirectory, parentVersion, weights.Sha256,
            slice.DatasetId, replayId);
    }

    /// <summary>
    /// Raises the candidate's threshold until the device detector false-accepts on the operating-point streams no more often than
    /// production (the model the gate compares it with) at its own (<see cref="OperatingPointMatch"/>): streams neither model
    /// trained on and the gate does not read.
    /// </summary>
    private static void MatchProductionOperatingPoint(RegisteredModel production, ModelRegistry registry, string candidateManifest, string operatingPointSet,
        string work, List<string> steps)
    {
        var sw = Stopwatch.StartNew();
        // The same export the gate makes of production afterwards (ModelJobSteps: WORK/current), so both read the same files.
        string referenceManifest = registry.Export(production.ModelVersion, Path.Combine(work, "current"));
        IReadOnlyList<EvaluationStream> streams = EvaluationSetFile.Load(operatingPointSet, out string description);
        OperatingPoint point = OperatingPointMatch.Choose(referenceManifest, candidateManifest, streams, description);
        if (point.Threshold != point.ParentThreshold)
        {
            OperatingPointMatch.SetThreshold(candidateManifest, point.Threshold);
        }
        File.WriteAllText(Path.Combine(work, "operating-point.json"), JsonSerializer.Serialize(point, new JsonSerializerOptions { WriteIndented = true }));
        steps.Add(ModelJobSteps.Step("operating point", sw, $"against production {production.ModelVersion}: {point.Describe()}"));
    }

    /// <summary>
    /// The base gate plus the held-out slice rule (production vs candidate, the device detector over each clip) and the leakage
    /// check, as one gate report; <paramref name="lineage"/> is what the registry keeps.
    /// </summary>
    public static GateReport GateOnFieldSlice(Tuned tuned, GateReport baseGate, string productionManifest, string candidateManifest, ModelJobInputs inputs,
        out FineTuneLineage lineage)
    {
        FieldSlice slice = FieldSlice.Load(tuned.FieldDatasetDirectory);
        FieldSliceResult production = FieldSliceGate.Evaluate(productionManifest, slice);
        FieldSliceResult candidate = FieldSliceGate.Evaluate(candidateManifest, slice);
        GateCheck sliceCheck = FieldSliceGate.Decide(production, candidate);
        List<string> readable = [tuned.FieldDatasetDirectory, .. inputs.ReplayDatasetDirectory is { } r ? [r] : Array.Empty<string>()];
        GateCheck leakage = FieldSliceLeakage.Check(tuned.TrainingManifestPath, tuned.FieldDatasetDirectory, readable);
        lineage = new FineTuneLineage(tuned.ParentVersion, tuned.InitFromSha256, tuned.FieldDatasetId, tuned.ReplayDatasetId, sliceCheck.Detail, leakage.Detail);
        return FieldSliceGate.Combine(baseGate, [sliceCheck, leakage]);
    }

    /// <summary>The parent's class weights as train.py takes them ("0.788,1.368"), or null when its training manifest has none.</summary>
    private static string? ParentClassWeights(RegisteredModel parent)
    {
        if (!parent.TrainingManifest.TryGetProperty("hyperparameters", out JsonElement h) || !h.TryGetProperty("classWeights", out JsonElement w)
            || w.ValueKind != JsonValueKind.Array || w.GetArrayLength() == 0)
        {
            return null;
        }
        return string.Join(',', w.EnumerateArray().Select(e => e.GetDouble().ToString("R", CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// The parent's input normalisation as train.py takes it: "-3.46,36.6" for one mean and std, or every mean then every std
    /// ("m0,...,m12,s0,...,s12") for the temporal architecture's per-coefficient one; null when its training manifest has none.
    /// </summary>
    private static string? ParentInputNormalisation(RegisteredModel parent)
    {
        if (!parent.TrainingManifest.TryGetProperty("hyperparameters", out JsonElement h) || !h.TryGetProperty("inputNormalisation", out JsonElement n)
            || !n.TryGetProperty("mean", out JsonElement mean) || !n.TryGetProperty("std", out JsonElement std))
        {
            return null;
        }
        double[]? means = Numbers(mean), stds = Numbers(std);
        if (means is null || stds is null || means.Length != stds.Length || stds.Any(s => !(s > 0))) return null;
        return string.Join(',', means.Concat(stds).Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

        static double[]? Numbers(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Number => [e.GetDouble()],
            JsonValueKind.Array when e.GetArrayLength() > 0 && e.EnumerateArray().All(v => v.ValueKind == JsonValueKind.Number) =>
                [.. e.EnumerateArray().Select(v => v.GetDouble())],
            _ => null,
        };
    }

    /// <summary>The trainer's record of where it started (checked against the weights given) and what it replayed.</summary>
    private static (double InitDifference, string? ReplayDatasetId, int ReplayPerEpoch) ReadLineage(string trainingManifest, string expectedSha)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(trainingManifest));
        JsonElement root = doc.RootElement;
        if (!root.TryGetProperty("initFrom", out JsonElement init) || !string.Equals(init.GetProperty("sha256").GetString(), expectedSha, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"fine-tune: {trainingManifest} does not record initFrom.sha256 = {expectedSha}");
        }
        double diff = init.GetProperty("check").GetProperty("maxAbsPosteriorDifference").GetDouble();
        if (root.TryGetProperty("replay", out JsonElement replay))
        {
            return (diff, replay.GetProperty("datasetId").GetString(), replay.GetProperty("windowsPerEpoch").GetInt32());
        }
        return (diff, null, 0);
    }
}

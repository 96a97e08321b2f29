using System.Diagnostics;
using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Gateway.Training;

/// <summary>
/// The steps of one model job, in order: train (tools/train/train.py with Debian's python3; the trainer reads an exported dataset
/// and never computes features) and quantize (<see cref="Int8ModelBuilder"/>, static INT8 QDQ calibrated on the dataset's training
/// split), or the fine-tune's own steps (<see cref="FineTuneSteps"/>), or a model built elsewhere; then evaluate on streaming audio
/// (<see cref="StreamingEvaluator"/>: the device's front end and detector), gate against the production model on the same streams
/// (<see cref="PromotionGate"/>), sign and register (<see cref="ModelRegistry"/>). Each finished step adds one line with its wall time.
/// </summary>
internal sealed class ModelJobSteps(ModelRegistry registry, ModelLoopOptions options, TimeProvider clock)
{
    /// <summary>Runs every step of the job in <paramref name="work"/>; throws, naming the step, when one fails.</summary>
    public async Task<RegisteredModel> RunAsync(ModelJobRequest r, ModelJobInputs inputs, string work, List<string> steps)
    {
        string version = r.ModelVersion!;
        if (registry.Store.TryGetRegisteredModel(version, out _))
        {
            throw new InvalidOperationException($"model version '{version}' is already registered");
        }
        RegisteredModel? production = registry.Production;
        string manifestPath, trainingManifestPath;
        string? floatModelPath;
        FineTuneSteps.Tuned? tuned = null;
        var sw = Stopwatch.StartNew();
        if (r.Kind == ModelJobKind.FineTune)
        {
            tuned = await FineTuneSteps.TrainAndQuantizeAsync(r, inputs, production, registry, options, TrainerScript(), work, steps).ConfigureAwait(false);
            (manifestPath, trainingManifestPath, floatModelPath) = (tuned.ManifestPath, tuned.TrainingManifestPath, tuned.FloatModelPath);
        }
        else if (r.Kind == ModelJobKind.Train)
        {
            string trained = Path.Combine(work, "trained");
            List<string> args = [TrainerScript(), "--dataset", inputs.DatasetDirectory!, "--out", trained, "--seed", r.Seed.ToString(CultureInfo.InvariantCulture), "--threads", "1"];
            if (r.Tiny) args.Add("--tiny");
            if (r.Epochs is { } epochs) args.AddRange(["--epochs", epochs.ToString(CultureInfo.InvariantCulture)]);
            (int exit, string stdout, string stderr) = await ExternalProcess.RunAsync(options.Python, args, options.TrainTimeout, CancellationToken.None).ConfigureAwait(false);
            File.WriteAllText(Path.Combine(work, "train.log"), stdout + stderr);
            if (exit != 0)
            {
                throw new InvalidOperationException($"train: {options.Python} train.py exited with {exit}: {Tail(stderr)}");
            }
            steps.Add(Step("train", sw, $"{(r.Tiny ? "tiny " : "")}DS-CNN, seed {r.Seed}"));

            sw.Restart();
            trainingManifestPath = Path.Combine(trained, "training-manifest.json");
            QuantizationReport q = Int8ModelBuilder.Build(Path.Combine(trained, "model.float.onnx"), trainingManifestPath, inputs.DatasetDirectory!, Path.Combine(work, "int8"),
                new Int8BuildOptions { ModelId = r.ModelId, ModelVersion = version, ParentVersion = production?.ModelVersion, Threshold = r.Threshold });
            manifestPath = Path.Combine(work, "int8", q.ManifestFile);
            steps.Add(Step("quantize", sw, string.Create(CultureInfo.InvariantCulture,
                $"{q.Int8SizeBytes} B INT8 (float {q.FloatSizeBytes} B), arg-max agreement {q.ArgMaxAgreement:P1}")));
            floatModelPath = Path.Combine(trained, "model.float.onnx");
        }
        else
        {
            manifestPath = inputs.ManifestPath!;
            trainingManifestPath = inputs.TrainingManifestPath!;
            floatModelPath = inputs.FloatModelPath;
        }

        sw.Restart();
        IReadOnlyList<EvaluationStream> streams = EvaluationSetFile.Load(inputs.EvaluationSetPath, out string description);
        var evalOptions = new StreamingEvaluationOptions { EvaluationSet = description };
        StreamingEvaluation candidate = StreamingEvaluator.Evaluate(manifestPath, streams, evalOptions);
        EvaluationWriter.Write(candidate, Path.Combine(work, "evaluation"));
        steps.Add(Step("evaluate", sw, string.Create(CultureInfo.InvariantCulture,
            $"{candidate.Report.FaPerHour:0.###} FA/hour ({candidate.Report.FalseAccepts} in {candidate.Report.NegativeHours:0.####} h), FRR {candidate.Report.FalseRejectRate:P1} at {candidate.Report.Threshold:0.###}")));

        GateReport? gate = null;
        if (production is not null && !r.Bootstrap)
        {
            sw.Restart();
            string currentManifest = registry.Export(production.ModelVersion, Path.Combine(work, "current"));
            StreamingEvaluation current = StreamingEvaluator.Evaluate(currentManifest, streams, evalOptions);
            gate = PromotionGate.Decide(current, candidate, new GateMargins { FaPerHour = r.FaMargin, FalseRejectRate = r.FrrMargin });
            steps.Add(Step("gate", sw, $"against {production.ModelVersion}: {gate.Summary}"));
            if (tuned is not null)
            {
                sw.Restart();
                gate = FineTuneSteps.GateOnFieldSlice(tuned, gate, currentManifest, manifestPath, inputs, out FineTuneLineage lineage);
                tuned = tuned with { Lineage = lineage };
                steps.Add(Step("field-slice gate", sw, $"{lineage.FieldSlice}; {lineage.Leakage}: {(gate.Promote ? "PROMOTE" : "REFUSE")}"));
            }
            EvaluationWriter.WriteGate(gate, current, candidate, Path.Combine(work, "gate"));
        }

        sw.Restart();
        RegisteredModel model = registry.Register(manifestPath, trainingManifestPath, candidate, gate, r.Bootstrap, clock.GetUtcNow(), floatModelPath, tuned?.Lineage);
        steps.Add(Step("sign+register", sw, $"key {model.SigningKeyId}, stage {model.Stage}{(model.FloatWeights is null ? ", no float weights (cannot be fine-tuned)" : ", float weights kept")}"));
        return model;
    }

    private string TrainerScript()
    {
        if (options.TrainerScript is { } configured)
        {
            return File.Exists(configured) ? configured : throw new InvalidOperationException($"Gateway:Models:TrainerScript '{configured}' does not exist");
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tools", "train", "train.py");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("tools/train/train.py not found above the gateway's binaries; set Gateway:Models:TrainerScript");
    }

    internal static string Step(string name, Stopwatch sw, string detail) =>
        string.Create(CultureInfo.InvariantCulture, $"{name}: {sw.Elapsed.TotalSeconds:0.0} s, {detail}");

    internal static string Tail(string text) => text.Length <= 2000 ? text.Trim() : "..." + text[^2000..].Trim();
}

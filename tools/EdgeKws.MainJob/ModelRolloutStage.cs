using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.Corpus;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;

namespace EdgeKws.MainJob;

/// <summary>
/// Stage 6 and its preparation, on the gateway's model publisher (registry, signing, model jobs,
/// staged rollout; docs/model-updates.md):
/// <list type="bullet">
/// <item>before the agents start: the gateway gets a release signing key made for this run; the bundled
/// model is registered as the first production model (evaluated on this run's device audio, signed);
/// each device is provisioned like a factory image: the signed seed package, the pinned public key and
/// the canaries, so its agent runs with model updates on;</item>
/// <item>stage 6 (default, <see cref="ModelStageKind.Recalibrate"/>): the production model is re-calibrated
/// on what this fleet heard (<c>edgekws-model build-int8 --from-int8</c> on the gateway's dataset export of
/// the devices' labelled clips: same weights, new activation ranges) and registered through the gateway's
/// register job (evaluated on this run's device audio, gated against production, signed);
/// <see cref="ModelStageKind.Train"/>: a model job trains a small model on a corpus generated in this run
/// and quantizes it instead. When the gate promotes the candidate, the agents come back (live audio at
/// real time on stdin), the model is rolled out canary-first and every device must confirm it (ModelStatus).</item>
/// </list>
/// Until the gateway serves <c>/api/registry</c>, <see cref="ProbeAsync"/> says the stage waits for the publisher.
/// </summary>
internal sealed class ModelRolloutStage(RepoLayout repo, string outDir, Progress progress, MainJobSummary summary, bool quick, ModelStageKind kind = ModelStageKind.Recalibrate)
{
    public const string WakePhrase = "hey edge";

    /// <summary>Speakers of the training corpus generated for the candidate (about 20 s to generate here; 12 with --quick-model).</summary>
    public const int TrainingSpeakers = 40;

    /// <summary>Epochs of the trainer's default DS-CNN (64 channels x 4 blocks): about a minute on one core here.</summary>
    public const int TrainingEpochs = 20;

    /// <summary>Epochs of the trainer's tiny DS-CNN (16 channels x 2 blocks, at most 512 windows) with --quick-model: seconds.</summary>
    public const int QuickTrainingEpochs = 60;

    private readonly string _modelDir = Path.Combine(outDir, "model");
    private string? _seedManifest;
    /// <summary>The evaluation set's name in the gateway's evaluation-set directory (jobs name inputs, never paths).</summary>
    private string? _streamsFile;

    private string GatewayDirectory => Path.Combine(outDir, "gateway");

    /// <summary>The gateway's <c>Gateway:Models:ImportDirectory</c>: models to register are copied in here and named by the job.</summary>
    private string ImportDirectory => Path.Combine(GatewayDirectory, "model-imports");

    /// <summary>The gateway's <c>Gateway:Models:EvaluationSetDirectory</c>.</summary>
    private string EvaluationSetDirectory => Path.Combine(GatewayDirectory, "evaluation-sets");

    /// <summary>The gateway's <c>Gateway:Labeling:DatasetDirectory</c> (its exports; training datasets are named from here).</summary>
    public string DatasetDirectory => Path.Combine(GatewayDirectory, "datasets");

    /// <summary>The release signing key file the gateway is started with (created, mode 0600).</summary>
    public string SigningKeyPath => Path.Combine(outDir, "gateway", "keys", "release-signing.pem");

    /// <summary>Gateway settings for the model publisher (ignored by a gateway without it).</summary>
    public IEnumerable<string> GatewaySettings()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(SigningKeyPath)!);
        if (!File.Exists(SigningKeyPath))
        {
            using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            // The gateway refuses a signing key readable by group or others: create it 0600.
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using var w = new StreamWriter(SigningKeyPath, create);
            w.Write(key.ExportPkcs8PrivateKeyPem());
        }
        yield return $"--Gateway:Models:SigningKeyPath={SigningKeyPath}";
        yield return $"--Gateway:Models:WorkDirectory={Path.Combine(outDir, "gateway", "model-jobs")}";
        yield return $"--Gateway:Models:TrainerScript={Path.Combine(repo.Root, "tools", "train", "train.py")}";
        yield return $"--Gateway:Models:ImportDirectory={ImportDirectory}";
        yield return $"--Gateway:Models:EvaluationSetDirectory={EvaluationSetDirectory}";
    }

    /// <summary>
    /// Copies a built model (INT8 manifest, the model file it names, training manifest) into the gateway's import directory under
    /// <paramref name="version"/>/, as an operator would, and returns the names a register job gives for them.
    /// </summary>
    private (string Manifest, string TrainingManifest) Import(string version, string manifestPath, string trainingManifestPath)
    {
        string dir = Path.Combine(ImportDirectory, version);
        Directory.CreateDirectory(dir);
        using (JsonDocument m = JsonDocument.Parse(File.ReadAllBytes(manifestPath)))
        {
            string fileName = m.RootElement.GetProperty("fileName").GetString()!;
            File.Copy(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, fileName), Path.Combine(dir, fileName), overwrite: true);
        }
        string manifest = Path.GetFileName(manifestPath), training = Path.GetFileName(trainingManifestPath);
        File.Copy(manifestPath, Path.Combine(dir, manifest), overwrite: true);
        File.Copy(trainingManifestPath, Path.Combine(dir, training), overwrite: true);
        // The float weights (models/default keeps STEM.float.onnx beside STEM.training-manifest.json): the register job finds them
        // by that name and keeps them, so the registered model can be fine-tuned (without them a FineTune job is refused).
        const string TrainingSuffix = ".training-manifest.json";
        if (training.EndsWith(TrainingSuffix, StringComparison.Ordinal))
        {
            string floatName = training[..^TrainingSuffix.Length] + ".float.onnx";
            string floatPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(trainingManifestPath))!, floatName);
            if (File.Exists(floatPath))
            {
                File.Copy(floatPath, Path.Combine(dir, floatName), overwrite: true);
            }
        }
        return ($"{version}/{manifest}", $"{version}/{training}");
    }

    /// <summary>Null when the gateway can publish models, else why not.</summary>
    public async Task<string?> ProbeAsync(GatewayClient gateway, CancellationToken ct)
    {
        JsonElement? key = await gateway.TryGetAsync("api/registry/signing-key", ct).ConfigureAwait(false);
        return key is null ? "waiting for the model publisher: this gateway has no model registry (GET /api/registry/signing-key is 404)" : null;
    }

    /// <summary>Registers the bundled model as production and provisions each device for signed updates; returns the seed manifest.</summary>
    public async Task<string> PrepareDevicesAsync(IReadOnlyList<DeviceRecording> recordings, string bundledManifest, IReadOnlyDictionary<string, string> stateDirectories,
        GatewayClient gateway, CancellationToken ct)
    {
        Directory.CreateDirectory(_modelDir);
        _streamsFile = await WriteEvaluationSetAsync(recordings, ct).ConfigureAwait(false);
        string trainingManifest = bundledManifest.Replace(".int8.manifest.json", ".training-manifest.json", StringComparison.Ordinal);
        _production = new ModelFiles(summary.ModelVersion, Path.GetFullPath(bundledManifest), Path.GetFullPath(trainingManifest));
        (string manifestName, string trainingName) = Import(summary.ModelVersion, bundledManifest, trainingManifest);
        JsonElement job = await RunJobAsync(gateway, "api/registry/models", new
        {
            kind = "Register",
            modelVersion = summary.ModelVersion,
            manifest = manifestName,
            trainingManifest = trainingName,
            evaluationSet = _streamsFile,
            bootstrap = true,
        }, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        _ = job;

        // The signed package devices are provisioned with (manifest bytes, detached signature, model).
        JsonElement package = await gateway.GetAsync($"api/registry/models/{Uri.EscapeDataString(summary.ModelVersion)}/package", ct).ConfigureAwait(false);
        string seedDir = Path.Combine(_modelDir, "seed");
        Directory.CreateDirectory(seedDir);
        string fileName = package.GetProperty("fileName").GetString()!;
        _seedManifest = Path.Combine(seedDir, Path.GetFileNameWithoutExtension(fileName) + ".manifest.json");
        await File.WriteAllBytesAsync(_seedManifest, package.GetProperty("manifest").GetBytesFromBase64(), ct).ConfigureAwait(false);
        await File.WriteAllBytesAsync(_seedManifest + ".sig", package.GetProperty("signature").GetBytesFromBase64(), ct).ConfigureAwait(false);
        await File.WriteAllBytesAsync(Path.Combine(seedDir, fileName), package.GetProperty("model").GetBytesFromBase64(), ct).ConfigureAwait(false);
        JsonElement key = await gateway.GetAsync("api/registry/signing-key", ct).ConfigureAwait(false);
        string publicPem = key.GetProperty("publicKeyPem").GetString()!;

        (float[] positive, float[] negative) = Canaries(recordings[0]);
        foreach ((string device, string state) in stateDirectories)
        {
            Directory.CreateDirectory(Path.Combine(state, "keys"));
            await File.WriteAllTextAsync(Path.Combine(state, "keys", "model-signing.pub.pem"), publicPem, ct).ConfigureAwait(false);
            Directory.CreateDirectory(Path.Combine(state, "canary"));
            ModelCanary.Write(Path.Combine(state, "canary", ModelCanary.PositiveFileName), positive, MfccConfig.Default.CoefficientCount, MfccConfig.Default.FeatureConfigHash);
            ModelCanary.Write(Path.Combine(state, "canary", ModelCanary.NegativeFileName), negative, MfccConfig.Default.CoefficientCount, MfccConfig.Default.FeatureConfigHash);
            _ = device;
        }
        progress.Detail($"model {summary.ModelVersion} registered as production and signed (key {key.GetProperty("keyId").GetString()}); " +
            $"devices provisioned with the signed seed, the pinned public key and canaries: model updates on");
        return _seedManifest;
    }

    /// <summary>
    /// The model stage of one day (stage 6 on day 1): make a candidate from what the fleet heard (<see cref="ModelStageKind"/>),
    /// register and gate it against production, and roll a promoted one out canary first; a confirmed model becomes the
    /// production model the next day's stage starts from.
    /// </summary>
    public async Task<(bool, string)> RunAsync(int day, IReadOnlyList<DeviceRecording> recordings, Func<DeviceRecording, ChildProcess> startLiveAgent,
        GatewayClient gateway, CancellationToken ct)
    {
        if (_streamsFile is null || _seedManifest is null || _production is null)
        {
            throw new InvalidOperationException("the devices were not provisioned for model updates");
        }
        _push = day <= 1 ? summary.ModelPush : new ModelPush();
        _push.Day = day;
        if (day > 1)
        {
            summary.LaterModelPushes.Add(_push);
        }
        // The gate scores the candidate on the audio of the day it learned from (day 1: the evaluation set written at provisioning).
        string evaluationSet = day <= 1 ? _streamsFile : await WriteEvaluationSetAsync(recordings, ct).ConfigureAwait(false);
        var input = new ModelStageInput(day, _production, evaluationSet, day <= 1 ? _modelDir : Path.Combine(_modelDir, $"day{day}"));
        Directory.CreateDirectory(input.WorkDirectory);
        // One method per kind; each returns a registered candidate the gate promoted, or null (refused: _push says why).
        Candidate? candidate = kind switch
        {
            ModelStageKind.Recalibrate => await RecalibrateAsync(input, gateway, ct).ConfigureAwait(false),
            ModelStageKind.Train => await TrainAsync(input, gateway, ct).ConfigureAwait(false),
            ModelStageKind.FineTune => await FineTuneAsync(input, gateway, ct).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"model stage {kind} is not implemented"),
        };
        if (candidate is null)
        {
            return (true, _push.Detail!);
        }
        (bool ok, string outcome) = await RolloutAsync(candidate, recordings, startLiveAgent, gateway, ct).ConfigureAwait(false);
        _production = candidate.Model;
        return (ok, outcome);
    }

    /// <summary>The model the devices run now: the bundled one, then each model a rollout confirmed.</summary>
    public ModelFiles? Production => _production;

    private ModelFiles? _production;
    private ModelPush _push = summary.ModelPush;

    /// <summary>A registered, promoted model ready to roll out: the register job, its files, the gate's words and where it came from.</summary>
    private sealed record Candidate(JsonElement Job, ModelFiles Model, string Gate, string Origin)
    {
        public string Version => Model.Version;
    }

    /// <summary>
    /// Field re-calibration of the production model: the gateway exports the devices' labelled clips as a
    /// dataset (<c>POST /api/review/datasets</c>), <c>edgekws-model build-int8 --from-int8</c> keeps the
    /// production model's INT8 weights and calibrates its activation ranges on those clips, and the gateway's
    /// register job evaluates it on this run's device audio, gates it against production and signs it.
    /// Without labelled clips (nothing was detected), the training corpus export of this run calibrates instead.
    /// </summary>
    private async Task<Candidate?> RecalibrateAsync(ModelStageInput input, GatewayClient gateway, CancellationToken ct)
    {
        ModelPush push = _push;
        string parentManifest = input.Production.Manifest;
        string parentVersion = input.Production.Version;
        string stamp = string.Create(CultureInfo.InvariantCulture, $"run{DateTimeOffset.UtcNow:yyyyMMddHHmmss}");

        // 1. Calibration data: what the devices heard (their labelled clips, exported by the gateway).
        string datasetDir;
        string datasetSource;
        FieldDataset? export = await ExportFieldDatasetAsync(gateway, input.Day <= 1 ? "recalibration-" + stamp : $"recalibration-day{input.Day}-{stamp}", ct).ConfigureAwait(false);
        if (export is not null)
        {
            datasetDir = export.Directory;
            datasetSource = string.Create(CultureInfo.InvariantCulture, $"the devices' labelled clips (gateway export {export.DatasetId}, {export.Examples} clips)");
        }
        else
        {
            datasetDir = await ExportTrainingCorpusAsync(ct).ConfigureAwait(false);
            datasetSource = "this run's training corpus export (the gateway had no labelled device clip to export)";
        }
        progress.Detail($"calibration data: {datasetSource} -> {datasetDir}");

        // 2. Re-calibrate with the model tool (same weights, new activation ranges; lineage in both manifests).
        // Its version is the tool's default, MAJOR.MINOR.(PATCH+1)-field.1: the first field re-calibration of
        // this fleet's production model (each run has a registry of its own).
        string outputDir = Path.Combine(input.WorkDirectory, "recalibrated");
        string trainingManifest = input.Production.TrainingManifest;
        (int code, string text) = await ChildProcess.RunToEndAsync(repo.ModelToolDll,
            ["build-int8", "--from-int8", parentManifest, "--training-manifest", trainingManifest, "--dataset", datasetDir, "--out", outputDir],
            _modelDir, null, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? manifest = lines.FirstOrDefault(l => l.StartsWith("manifest: ", StringComparison.Ordinal))?["manifest: ".Length..];
        string? newTraining = lines.FirstOrDefault(l => l.StartsWith("training manifest: ", StringComparison.Ordinal))?["training manifest: ".Length..];
        if (code != 0 || manifest is null || newTraining is null)
        {
            throw new InvalidOperationException($"edgekws-model build-int8 --from-int8 failed ({code}): {text.Trim()}");
        }
        foreach (string line in lines.Take(2))
        {
            progress.Detail("re-calibration: " + line);
        }
        string version = JsonDocument.Parse(await File.ReadAllBytesAsync(manifest, ct).ConfigureAwait(false)).RootElement.GetProperty("modelVersion").GetString()!;
        push.Version = version;
        push.Manifest = Path.GetFullPath(manifest);

        // 3. Register: evaluation on this run's device audio, gate against production, signature.
        (string manifestName, string trainingName) = Import(version, manifest, newTraining);
        JsonElement job = await RunJobAsync(gateway, "api/registry/models", new
        {
            kind = "Register",
            modelVersion = version,
            manifest = manifestName,
            trainingManifest = trainingName,
            evaluationSet = input.EvaluationSet,
        }, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        JsonElement model = job.GetProperty("model");
        string stage = model.GetProperty("stage").ToString();
        string gate = model.TryGetProperty("gateSummary", out JsonElement g) ? g.GetString() ?? "" : "";
        string origin = $"re-calibrated from {parentVersion} on {datasetSource}";
        push.Gate = gate;
        if (stage is not "Candidate" and not "Production")
        {
            push.Status = "refused by the gate";
            push.Detail = $"{version} ({origin}) refused by the promotion gate ({gate}); nothing pushed";
            return null;
        }
        return new Candidate(job, new ModelFiles(version, push.Manifest, Path.GetFullPath(newTraining)), gate, origin);
    }

    /// <summary>A dataset the gateway exported from the devices' labelled clips (<c>POST /api/review/datasets</c>), in its dataset directory.</summary>
    internal sealed record FieldDataset(string Directory, string DatasetId, int Examples, string Summary = "");

    /// <summary>A model job that ended Failed (its error as the gateway reports it).</summary>
    private sealed class ModelJobFailedException(string id, string error) : InvalidOperationException($"model job {id} failed: {error}")
    {
        public string JobId { get; } = id;

        public string JobError { get; } = error;
    }

    /// <summary>
    /// The gateway's export of every labelled device clip (raw audio, MFCCs by the shared extractor) as a dataset named
    /// <paramref name="name"/>; null when it has nothing to export (409). The field data of every model stage.
    /// </summary>
    private static async Task<FieldDataset?> ExportFieldDatasetAsync(GatewayClient gateway, string name, CancellationToken ct, string? split = null)
    {
        JsonElement? export = await gateway.TryPostJsonAsync("api/review/datasets",
            split is null ? new { name, keyword = WakePhrase } : new { name, keyword = WakePhrase, split }, ct).ConfigureAwait(false);
        return export is { } e && e.TryGetProperty("directory", out JsonElement dirEl) && dirEl.GetString() is { } dir
            ? new FieldDataset(dir, e.GetProperty("datasetId").GetString() ?? "", e.GetProperty("examples").GetInt32(), string.Create(CultureInfo.InvariantCulture,
                $"{Count(e, "keywordExamples")} \"{WakePhrase}\", {Count(e, "backgroundExamples")} background; train {SplitCount(dir, "train")}, test {SplitCount(dir, "test")}"))
            : null;
    }

    private static string Count(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32().ToString(CultureInfo.InvariantCulture) : "?";

    /// <summary>Examples in one split of an exported dataset (its dataset.json), "0" when the split is absent.</summary>
    private static string SplitCount(string datasetDir, string split)
    {
        try
        {
            using JsonDocument d = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(datasetDir, "dataset.json")));
            return d.RootElement.GetProperty("splits").TryGetProperty(split, out JsonElement s) ? s.GetProperty("count").GetInt32().ToString(CultureInfo.InvariantCulture) : "0";
        }
        catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException)
        {
            return "?";
        }
    }

    /// <summary>A training corpus of other voices generated in this run, exported as a dataset (the trained path's data, and the re-calibration fallback).</summary>
    private async Task<string> ExportTrainingCorpusAsync(CancellationToken ct)
    {
        string corpusDir = TrainingCorpusDirectory;
        // Voices of its own (another seed), "hey edge" only, so the candidate never trains on a device's speaker.
        var corpusOptions = new CorpusOptions
        {
            OutputDirectory = corpusDir,
            Seed = 7_003,
            SpeakerCount = quick ? 12 : TrainingSpeakers,
            Keywords = [WakePhrase],
            TakesPerKeyword = 4,
            SentencesPerSpeaker = 4,
            StreamSentencesPerSpeaker = 8,
            // The test split's streams calibrate the threshold when the trainer's is refused: 40 keywords
            // resolve FRR to 2.5 %, so the calibrated threshold is not a coin toss.
            NegativeStreamMinutes = quick ? 2 : 6,
            PositiveStreamKeywords = quick ? 10 : 40,
            MaxParallelSynthesis = 2,
        };
        await CorpusGenerator.GenerateAsync(corpusOptions, log: null, ct).ConfigureAwait(false);
        // In the gateway's dataset directory, so a training job can name it.
        string datasetDir = Path.Combine(DatasetDirectory, "train-corpus");
        using (var log = new StringWriter())
        {
            int rc = EdgeKws.Dataset.DatasetCommand.Run(["export", "--corpus", corpusDir, "--out", datasetDir, "--keyword", WakePhrase], log, log);
            if (rc != 0)
            {
                throw new InvalidOperationException($"dataset export failed ({rc}): {log}");
            }
        }
        progress.Detail($"training data: corpus of {corpusOptions.SpeakerCount} speakers -> dataset {Path.GetRelativePath(outDir, datasetDir)}");
        return datasetDir;
    }

    private string TrainingCorpusDirectory => Path.Combine(_modelDir, "train-corpus");

    /// <summary><c>--model-stage train</c>: a small model trained and quantized in this run by a gateway model job.</summary>
    private async Task<Candidate?> TrainAsync(ModelStageInput input, GatewayClient gateway, CancellationToken ct)
    {
        ModelPush push = _push;
        string version = string.Create(CultureInfo.InvariantCulture, $"{NextMinor(input.Production.Version)}-run{DateTimeOffset.UtcNow:yyyyMMddHHmmss}");
        push.Version = version;

        // 1. Training data generated in this run (a small held-apart corpus), exported as a dataset.
        string corpusDir = TrainingCorpusDirectory;
        string datasetDir = await ExportTrainingCorpusAsync(ct).ConfigureAwait(false);

        // 2. Train (DS-CNN; tiny with --quick-model), quantize to INT8, evaluate on this run's device audio, gate against production, sign, register.
        JsonElement job = await RunJobAsync(gateway, "api/model-jobs", new
        {
            kind = "Train",
            modelVersion = version,
            modelId = "hey-edge",
            dataset = Path.GetFileName(datasetDir),
            evaluationSet = input.EvaluationSet,
            tiny = quick,
            epochs = quick ? QuickTrainingEpochs : TrainingEpochs,
            seed = 42,
        }, TimeSpan.FromMinutes(20), ct).ConfigureAwait(false);
        JsonElement model = job.GetProperty("model");
        string stage = model.GetProperty("stage").ToString();
        string gate = model.TryGetProperty("gateSummary", out JsonElement g) ? g.GetString() ?? "" : "";
        string work = job.GetProperty("workDirectory").GetString()!;
        push.Manifest = Directory.EnumerateFiles(Path.Combine(work, "int8"), "*.int8.manifest.json").Single();
        string trainedManifest = Path.Combine(work, "trained", "training-manifest.json");
        if (stage is not "Candidate" and not "Production")
        {
            // The trainer's threshold (from window-level validation) may not suit streaming audio. Calibrate
            // it on the training corpus's held-out test speakers (neither trained on nor the devices' voices:
            // the gate's own streams are never used to choose it) and register the same INT8 model again
            // under a new version with that threshold; the gateway evaluates and gates it afresh.
            // (corpusDir: the training corpus generated above; its test split holds the held-out voices.)
            float? calibrated = await CalibrateThresholdAsync(work, corpusDir, ct).ConfigureAwait(false);
            if (calibrated is null)
            {
                push.Status = "refused by the gate";
                push.Detail = $"{version} trained and quantized in this run, then refused by the promotion gate ({gate}); no threshold on held-out voices passes either; nothing pushed";
                push.Gate = gate;
                return null;
            }
            string firstVersion = version;
            version += "-cal";
            push.Version = version;
            string manifest = WriteRecalibratedManifest(work, version, calibrated.Value);
            push.Manifest = manifest;
            progress.Detail(string.Create(CultureInfo.InvariantCulture,
                $"{firstVersion} refused ({gate}); threshold recalibrated on the training corpus's held-out voices: {calibrated.Value:0.####} -> registering {version}"));
            (string manifestName, string trainingName) = Import(version, manifest, trainedManifest);
            job = await RunJobAsync(gateway, "api/registry/models", new
            {
                kind = "Register",
                modelVersion = version,
                manifest = manifestName,
                trainingManifest = trainingName,
                evaluationSet = input.EvaluationSet,
            }, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
            model = job.GetProperty("model");
            stage = model.GetProperty("stage").ToString();
            gate = model.TryGetProperty("gateSummary", out g) ? g.GetString() ?? "" : "";
            if (stage is not "Candidate" and not "Production")
            {
                push.Status = "refused by the gate";
                push.Detail = $"{version} (trained and quantized in this run, threshold {calibrated.Value:0.####} from held-out voices) refused by the promotion gate ({gate}); nothing pushed";
                push.Gate = gate;
                return null;
            }
        }

        push.Gate = gate;
        return new Candidate(job, new ModelFiles(version, push.Manifest, trainedManifest), gate, "trained and quantized in this run");
    }

    /// <summary>Speakers of the far-field replay corpus of the fine-tune stage (other voices than the devices'; 12 with --quick-model).</summary>
    public const int ReplaySpeakers = 24;

    /// <summary>Minutes of negative audio in each of the replay corpus's test split (the base gate's streams) and validation split (the operating point's).</summary>
    public const int ReplayNegativeMinutes = 60;

    /// <summary>
    /// Replayed windows per fine-tune epoch: about the replay corpus's whole training pool (210 windows) rather than the job's
    /// default of one per field window (~24). Chosen on streams neither the job nor its gate reads (an hour of negatives and 60
    /// keywords of a seed-7012 corpus, docs/main-job.md): at production's threshold 1 false accept instead of 4, and FRR at
    /// <= 1 / 2 false accepts in the hour 26.7 / 23.3 % instead of 33.3 / 30.0 % (production 35.0 / 35.0 %).
    /// </summary>
    public const int ReplayWindowsPerEpoch = 200;

    /// <summary>Fine-tuning epochs (the trainer's fine-tune default is 10; a few keep the stage about a minute on one core).</summary>
    public const int FineTuneEpochs = 5;

    /// <summary>
    /// <c>--model-stage finetune</c>: the gateway's FineTune job (docs/model-updates.md). The gateway exports the day's field dataset
    /// (time split: each device's latest 20 % of decided clips held out as <c>test</c>); a small far-field replay corpus of other voices
    /// is generated in this run and exported into the model import directory (the base training data is not in a clone); the job
    /// fine-tunes the production model's registered float weights on both, quantizes with the parent's detector settings and gates the
    /// candidate on the base streams, the held-out field slice and leakage. Nothing to export (409): the stage is skipped.
    /// </summary>
    private async Task<Candidate?> FineTuneAsync(ModelStageInput input, GatewayClient gateway, CancellationToken ct)
    {
        ModelPush push = _push;
        string stamp = string.Create(CultureInfo.InvariantCulture, $"run{DateTimeOffset.UtcNow:yyyyMMddHHmmss}");

        // 1. The day's field dataset, exported by the gateway from its labels only (time split: the held-out slice is each device's latest clips).
        FieldDataset? field = await ExportFieldDatasetAsync(gateway, $"finetune-day{input.Day}-{stamp}", ct, split: "time").ConfigureAwait(false);
        if (field is null)
        {
            push.Status = "skipped";
            push.Detail = "fine-tune skipped: the gateway has no decided clip to export (POST /api/review/datasets answered 409)";
            return null;
        }
        progress.Detail($"field data: gateway export {field.DatasetId} ({field.Examples} clips: {field.Summary}; time split) -> {Path.GetRelativePath(outDir, field.Directory)}");

        // 2. Replay data against forgetting: a far-field corpus of other voices (the bundled model's recipe is far-field), exported
        // into the gateway's model import directory where the job names it.
        string replayName = $"replay-day{input.Day}-{stamp}";
        var sw = Stopwatch.StartNew();
        string replayDir = await ExportReplayCorpusAsync(Path.Combine(input.WorkDirectory, "replay-corpus"), Path.Combine(ImportDirectory, replayName), ct).ConfigureAwait(false);
        progress.Detail(string.Create(CultureInfo.InvariantCulture,
            $"replay data: far-field corpus of {(quick ? 12 : ReplaySpeakers)} other speakers (\"{WakePhrase}\", near misses, negatives) -> {Path.GetRelativePath(outDir, replayDir)} in {sw.Elapsed.TotalSeconds:F0} s"));
        // The base gate's streams: the replay corpus's test split (its own voices and rooms, neither trained on nor heard by a
        // device), not the day's device audio, which is what the field data was cut from and is too short to resolve FA/hour.
        string baseStreams = $"replay-test-day{input.Day}-{stamp}.json";
        string baseStreamsSummary = await ExportReplayStreamsAsync(Path.Combine(input.WorkDirectory, "replay-corpus"), "test", Path.Combine(EvaluationSetDirectory, baseStreams), ct).ConfigureAwait(false);
        progress.Detail($"base test streams: {baseStreamsSummary}");
        // The candidate's operating point: its threshold is matched to production's false accepts on the replay corpus's validation
        // split (neither trained on nor read by the gate).
        string operatingPointStreams = $"replay-validation-day{input.Day}-{stamp}.json";
        string operatingPointSummary = await ExportReplayStreamsAsync(Path.Combine(input.WorkDirectory, "replay-corpus"), "validation",
            Path.Combine(EvaluationSetDirectory, operatingPointStreams), ct).ConfigureAwait(false);
        progress.Detail($"operating-point streams: {operatingPointSummary}");

        // 3. The FineTune job: from the production model's float weights; gate on base streams + held-out slice + leakage; sign, register.
        string version = $"{NextPatch(input.Production.Version)}-ft.{input.Day}";
        push.Version = version;
        JsonElement job;
        try
        {
            job = await RunJobAsync(gateway, "api/model-jobs", new
            {
                kind = "FineTune",
                modelVersion = version,
                dataset = Path.GetFileName(field.Directory),
                evaluationSet = baseStreams,
                operatingPointSet = operatingPointStreams,
                replayDataset = replayName,
                replayWindowsPerEpoch = quick ? (int?)null : ReplayWindowsPerEpoch,
                tiny = quick,
                epochs = FineTuneEpochs,
                seed = 42,
            }, TimeSpan.FromMinutes(20), ct).ConfigureAwait(false);
        }
        catch (ModelJobFailedException ex)
        {
            JsonElement failed = await gateway.GetAsync($"api/model-jobs/{ex.JobId}", ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(input.WorkDirectory, "finetune-job.json"),
                JsonSerializer.Serialize(failed, new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
            // The job refused the data it was given (e.g. the trainer needs background windows in the field training split, and
            // a day whose labeler decided only true accepts has none): no candidate, the stage reports why and the run goes on.
            push.Status = "fine-tune job failed";
            push.Detail = $"{version}: the FineTune job on gateway export {field.DatasetId} ({field.Examples} clips: {field.Summary}) failed: {ex.JobError}; nothing pushed";
            return null;
        }
        // The job as the gateway reports it (steps, registered model with its fineTune lineage), kept with the run's model files.
        await File.WriteAllTextAsync(Path.Combine(input.WorkDirectory, "finetune-job.json"),
            JsonSerializer.Serialize(job, new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
        JsonElement model = job.GetProperty("model");
        string stage = model.GetProperty("stage").ToString();
        string gate = model.TryGetProperty("gateSummary", out JsonElement g) ? g.GetString() ?? "" : "";
        string work = job.GetProperty("workDirectory").GetString()!;
        push.Manifest = Directory.EnumerateFiles(Path.Combine(work, "int8"), "*.int8.manifest.json").Single();
        push.Gate = gate;
        string trainingManifest = Path.Combine(work, "trained", "training-manifest.json");
        string origin = $"fine-tuned from {input.Production.Version} on gateway export {field.DatasetId} ({field.Examples} clips) with replay {replayName}";
        if (model.TryGetProperty("fineTune", out JsonElement ft) && ft.ValueKind == JsonValueKind.Object)
        {
            progress.Detail($"fine-tune lineage: from {ft.GetProperty("parentVersion").GetString()} float sha256 {ft.GetProperty("initFromSha256").GetString()}; " +
                $"field slice: {ft.GetProperty("fieldSlice").GetString()}; leakage: {ft.GetProperty("leakage").GetString()}");
        }
        if (stage is not "Candidate" and not "Production")
        {
            push.Status = "refused by the gate";
            push.Detail = $"{version} ({origin}) refused by the promotion gate ({gate}); nothing pushed";
            return null;
        }
        return new Candidate(job, new ModelFiles(version, push.Manifest, trainingManifest), gate, origin);
    }

    /// <summary>The fine-tune stage's replay corpus (far-field, other voices, "hey edge" + near misses + negative streams), exported as a dataset at <paramref name="datasetDir"/>.</summary>
    private async Task<string> ExportReplayCorpusAsync(string corpusDir, string datasetDir, CancellationToken ct)
    {
        var corpusOptions = new CorpusOptions
        {
            OutputDirectory = corpusDir,
            // Voices of its own (neither the devices' seed nor the train path's), so the replay never holds a device's speaker.
            Seed = 7_011,
            SpeakerCount = quick ? 12 : ReplaySpeakers,
            Keywords = [WakePhrase],
            TakesPerKeyword = 3,
            SentencesPerSpeaker = 3,
            StreamSentencesPerSpeaker = 6,
            // Test split: the base gate's streams (an hour of negatives resolves one false accept per hour).
            NegativeStreamMinutes = quick ? 2 : ReplayNegativeMinutes,
            PositiveStreamKeywords = quick ? 6 : 60,
            // Validation split: the streams the job matches the candidate's operating point on.
            ValidationNegativeStreamMinutes = quick ? 1 : ReplayNegativeMinutes,
            ValidationPositiveStreamKeywords = quick ? 4 : 30,
            FarField = true,
            RoomsPerSplit = 16,
            MaxParallelSynthesis = 2,
        };
        await CorpusGenerator.GenerateAsync(corpusOptions, log: null, ct).ConfigureAwait(false);
        using var log = new StringWriter();
        int rc = EdgeKws.Dataset.DatasetCommand.Run(["export", "--corpus", corpusDir, "--out", datasetDir, "--keyword", WakePhrase], log, log);
        if (rc != 0)
        {
            throw new InvalidOperationException($"replay dataset export failed ({rc}): {log}");
        }
        return datasetDir;
    }

    /// <summary>One split of the replay corpus's streams as an <c>edgekws-streams/1</c> file (<c>edgekws-model export-streams</c>); returns the tool's summary line.</summary>
    private async Task<string> ExportReplayStreamsAsync(string corpusDir, string split, string streamsFile, CancellationToken ct)
    {
        (int code, string text) = await ChildProcess.RunToEndAsync(repo.ModelToolDll, ["export-streams", "--corpus", corpusDir, "--split", split, "--out", streamsFile],
            _modelDir, null, TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"edgekws-model export-streams failed ({code}): {text.Trim()}");
        }
        return text.Trim();
    }

    /// <summary>Steps 3-5 for a promoted candidate: live agents, canary-first rollout, every device's confirmation.</summary>
    private async Task<(bool, string)> RolloutAsync(Candidate candidate, IReadOnlyList<DeviceRecording> recordings, Func<DeviceRecording, ChildProcess> startLiveAgent,
        GatewayClient gateway, CancellationToken ct)
    {
        ModelPush push = _push;
        string version = candidate.Version;
        JsonElement job = candidate.Job;
        string gate = candidate.Gate;
        // 3. The agents listen again (live, real time, on stdin) so they can take the model.
        var live = recordings.Select(startLiveAgent).ToList();
        progress.Detail($"{live.Count} agents listening live again (pids {string.Join(", ", live.Select(a => a.Id))})");
        // Offers go out on the devices' command topics; start once every live agent is connected again.
        var connectWait = Stopwatch.StartNew();
        while (true)
        {
            JsonElement devices = await gateway.GetAsync("api/devices", ct).ConfigureAwait(false);
            int online = devices.EnumerateArray().Count(d => d.TryGetProperty("status", out JsonElement st) && string.Equals(st.GetString(), "online", StringComparison.OrdinalIgnoreCase));
            if (online >= recordings.Count && live.All(a => a.Lines().Count > 0 || connectWait.Elapsed > TimeSpan.FromSeconds(5)))
            {
                break;
            }
            // A liveness bound only (agent start + JIT + model load + connect on a loaded 2-core machine can take a minute).
            if (connectWait.Elapsed > TimeSpan.FromSeconds(180))
            {
                throw new TimeoutException($"only {online}/{recordings.Count} devices are online again after 180 s");
            }
            await Task.Delay(250, ct).ConfigureAwait(false);
        }

        // 4. Canary first, then the rest as one wave; a short soak so the run stays minutes long.
        string[] canaries = [recordings[0].DeviceId];
        string[][] waves = recordings.Count > 1 ? [[.. recordings.Skip(1).Select(r => r.DeviceId)]] : [];
        JsonElement rollout = await gateway.PostJsonAsync("api/rollouts", new { modelVersion = version, canaries, waves, soakListeningHours = 0.0 }, ct).ConfigureAwait(false);
        long id = rollout.GetProperty("id").GetInt64();
        progress.Detail($"rollout {id}: {version} to canary {canaries[0]}" + (waves.Length > 0 ? $", then {string.Join(", ", waves[0])}" : ""));

        var sw = Stopwatch.StartNew();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        string state = "";
        while (sw.Elapsed < TimeSpan.FromMinutes(5))
        {
            rollout = await gateway.GetAsync($"api/rollouts/{id}", ct).ConfigureAwait(false);
            state = rollout.GetProperty("state").ToString();
            foreach (JsonElement d in rollout.GetProperty("devices").EnumerateArray())
            {
                string device = d.GetProperty("deviceId").GetString()!;
                string ds = d.GetProperty("state").ToString();
                if (!seen.TryGetValue(device, out string? before) || before != ds)
                {
                    seen[device] = ds;
                    progress.Detail(string.Create(CultureInfo.InvariantCulture,
                        $"rollout {id} at {sw.Elapsed.TotalSeconds:F1} s: {device} (step {d.GetProperty("step").GetInt32()}) {ds}{(d.TryGetProperty("reason", out JsonElement r) && r.ValueKind == JsonValueKind.String ? ": " + r.GetString() : "")}"));
                }
            }
            if (state is "Completed" or "RolledBack")
            {
                break;
            }
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
        push.ConfirmedDevices = [.. rollout.GetProperty("devices").EnumerateArray().Where(d => d.GetProperty("state").ToString() == "Confirmed").Select(d => d.GetProperty("deviceId").GetString()!)];

        // 5. The agents stop (end of their live audio) and report which model they ran.
        foreach (ChildProcess agent in live)
        {
            try
            {
                agent.StandardInput.Close();
            }
            catch (IOException)
            {
                // Already gone.
            }
        }
        foreach (ChildProcess agent in live)
        {
            await agent.WaitForExitAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            string? line = agent.Lines().LastOrDefault(l => l.StartsWith("summary:", StringComparison.Ordinal));
            progress.Detail($"{agent.Name}: {(line is null ? "no summary" : "model=" + MainJob.ParseSummary(line).GetValueOrDefault("model") + ", live audio " + MainJob.ParseSummary(line).GetValueOrDefault("audio_s") + " s")}");
        }

        string steps = string.Join("; ", job.GetProperty("steps").EnumerateArray().Select(s => s.GetString()));
        if (state != "Completed" || push.ConfirmedDevices.Count != recordings.Count)
        {
            push.Status = "not confirmed";
            push.Detail = $"rollout {id} {state}: {push.ConfirmedDevices.Count}/{recordings.Count} confirmed ({rollout.GetProperty("reason")})";
            throw new InvalidOperationException($"model push: {push.Detail}");
        }
        push.Status = "confirmed";
        push.Detail = $"{candidate.Origin}; rollout {id}, canary {canaries[0]} first; job: {steps}";
        return (true, $"{version} ({candidate.Origin}) confirmed by {push.ConfirmedDevices.Count}/{recordings.Count} devices, canary first; gate: {gate}");
    }

    /// <summary>
    /// A deployed threshold for the candidate from the training corpus's test split (held-out voices): the
    /// model tool's gate against production on those streams; its suggestion when the shipped threshold
    /// fails but the curve passes, the shipped one when it passes, else null.
    /// </summary>
    private async Task<float?> CalibrateThresholdAsync(string work, string corpusDir, CancellationToken ct)
    {
        string candidate = Directory.EnumerateFiles(Path.Combine(work, "int8"), "*.int8.manifest.json").Single();
        string current = Directory.EnumerateFiles(Path.Combine(work, "current"), "*manifest.json").First();
        string outDir = Path.Combine(_modelDir, "calibration");
        (int code, string text) = await ChildProcess.RunToEndAsync(repo.ModelToolDll,
            ["gate", "--current", current, "--candidate", candidate, "--corpus", corpusDir, "--out", outDir], _modelDir, null, TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        string gateJson = Path.Combine(outDir, "gate.json");
        if (code is not 0 and not 3 || !File.Exists(gateJson))
        {
            throw new InvalidOperationException($"edgekws-model gate (calibration) failed ({code}): {text.Trim()}");
        }
        using JsonDocument doc = JsonDocument.Parse(await File.ReadAllBytesAsync(gateJson, ct).ConfigureAwait(false));
        progress.Detail("calibration on held-out voices: " + doc.RootElement.GetProperty("summary").GetString());
        if (doc.RootElement.GetProperty("promote").GetBoolean())
        {
            using JsonDocument m = JsonDocument.Parse(await File.ReadAllBytesAsync(candidate, ct).ConfigureAwait(false));
            return m.RootElement.GetProperty("threshold").GetSingle();
        }
        return doc.RootElement.TryGetProperty("suggestedCandidateThreshold", out JsonElement t) && t.ValueKind == JsonValueKind.Number ? t.GetSingle() : null;
    }

    /// <summary>The candidate's INT8 manifest under a new version with another threshold (model file copied beside it).</summary>
    private string WriteRecalibratedManifest(string work, string version, float threshold)
    {
        string source = Directory.EnumerateFiles(Path.Combine(work, "int8"), "*.int8.manifest.json").Single();
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(source))!.AsObject();
        string fileName = json["fileName"]!.GetValue<string>();
        string dir = Path.Combine(_modelDir, "recalibrated");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(work, "int8", fileName), Path.Combine(dir, fileName), overwrite: true);
        json["modelVersion"] = version;
        json["threshold"] = threshold;
        string path = Path.Combine(dir, $"{json["modelId"]?.GetValue<string>() ?? "model"}-{version}.int8.manifest.json");
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>Live audio for an agent on stdin: the device's WAV looped, paced at real time in 100 ms blocks.</summary>
    public static async Task FeedRealTimeAsync(ChildProcess agent, string wavPath, CancellationToken ct)
    {
        float[] audio = ReadPrefix(wavPath, 16_000 * 120);
        int length = audio.Length;
        var pcm = new byte[length * 2];
        for (int i = 0; i < length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(pcm.AsSpan(i * 2), (short)Math.Clamp(audio[i] * 32768f, short.MinValue, short.MaxValue));
        }
        const int blockBytes = 3_200; // 100 ms
        Stream stdin = agent.StandardInput.BaseStream;
        var sw = Stopwatch.StartNew();
        long sent = 0;
        try
        {
            for (int at = 0; !ct.IsCancellationRequested; at = (at + blockBytes) % (pcm.Length - blockBytes))
            {
                await stdin.WriteAsync(pcm.AsMemory(at, blockBytes), ct).ConfigureAwait(false);
                await stdin.FlushAsync(ct).ConfigureAwait(false);
                sent += blockBytes;
                double aheadMs = (sent / 32.0) - sw.Elapsed.TotalMilliseconds;
                if (aheadMs > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(aheadMs), ct).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The agent stopped reading (stdin closed at the end of the stage, or the process ended).
        }
    }

    /// <summary>The day's device audio as the gateway's evaluation set (jobs name it; the gateway resolves it in its directory).</summary>
    private async Task<string> WriteEvaluationSetAsync(IReadOnlyList<DeviceRecording> recordings, CancellationToken ct)
    {
        int day = recordings[0].Day;
        string name = day <= 1 ? "main-job-streams.json" : $"main-job-streams-day{day}.json";
        await StreamsFile.WriteAsync(Path.Combine(EvaluationSetDirectory, name), recordings,
            $"main job device audio ({recordings.Count} devices{(day <= 1 ? "" : $", day {day}")})", ct).ConfigureAwait(false);
        return name;
    }

    /// <summary>The first <paramref name="maxSamples"/> samples of a WAV at 16 kHz mono.</summary>
    private static float[] ReadPrefix(string path, int maxSamples)
    {
        using var source = new AudioFileSource(path);
        var audio = new float[maxSamples];
        int n = 0;
        int read;
        while (n < audio.Length && (read = source.Read(audio.AsSpan(n))) > 0)
        {
            n += read;
        }
        return audio[..n];
    }

    /// <summary>
    /// The canaries the agents ship with: positive = MFCCs of the reference device's first keywords (the
    /// 9.5 s from its first keyword, two or three "hey edge"), negative = MFCCs of 3 s of very quiet noise.
    /// A model must fire on the first and stay silent on the second before a device installs it.
    /// </summary>
    private static (float[] Positive, float[] Negative) Canaries(DeviceRecording reference)
    {
        // At most 9.5 s (a canary holds up to 1,000 frames): from just before the first keyword, which
        // takes in the next one or two as well (positive-stream keywords are 2-6 s apart).
        int startSample = (int)(Math.Max(0, reference.Keywords[0].StartMs - 500) * 16);
        float[] prefix = ReadPrefix(reference.WavPath, startSample + (16 * 9_500));
        float[] positive = prefix[Math.Min(startSample, prefix.Length)..];
        var rng = new Random(11);
        float[] negative = new float[16_000 * 3];
        for (int i = 0; i < negative.Length; i++)
        {
            negative[i] = (float)((rng.NextDouble() * 2) - 1) * 0.0005f;
        }
        return (Mfcc(positive), Mfcc(negative));
    }

    private static float[] Mfcc(float[] audio)
    {
        MfccConfig config = MfccConfig.Default;
        var extractor = new MfccExtractor(config);
        var frames = new float[(config.FrameCount(audio.Length) + 1) * config.CoefficientCount];
        int n = extractor.Push(audio, frames);
        return frames[..(n * config.CoefficientCount)];
    }

    private async Task<JsonElement> RunJobAsync(GatewayClient gateway, string path, object request, TimeSpan timeout, CancellationToken ct)
    {
        JsonElement job = await gateway.PostJsonAsync(path, request, ct).ConfigureAwait(false);
        string id = job.GetProperty("id").GetString()!;
        var sw = Stopwatch.StartNew();
        int printed = 0;
        while (true)
        {
            job = await gateway.GetAsync($"api/model-jobs/{id}", ct).ConfigureAwait(false);
            JsonElement[] steps = [.. job.GetProperty("steps").EnumerateArray()];
            for (; printed < steps.Length; printed++)
            {
                progress.Detail($"model job {id}: {steps[printed].GetString()}");
            }
            string state = job.GetProperty("state").ToString();
            if (state == "Succeeded")
            {
                return job;
            }
            if (state == "Failed")
            {
                throw new ModelJobFailedException(id, job.GetProperty("error").ToString());
            }
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"model job {id} still {state} after {timeout.TotalMinutes:F0} min");
            }
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
    }

    /// <summary>MAJOR.MINOR.(PATCH+1) of a version's core (1.3.0 -> 1.3.1; 1.3.1-ft.1 -> 1.3.2).</summary>
    private static string NextPatch(string version)
    {
        string[] parts = version.Split('-', 2)[0].Split('+', 2)[0].Split('.');
        return parts.Length == 3 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int patch)
            ? $"{parts[0]}.{parts[1]}.{patch + 1}"
            : version.Split('-', 2)[0] + ".1";
    }

    private static string NextMinor(string version)
    {
        string[] parts = version.Split('-', 2)[0].Split('.');
        return parts.Length >= 2 && int.TryParse(parts[1], out int minor) ? $"{parts[0]}.{minor + 1}.0" : version + ".1";
    }
}

/// <summary>A model's files: version, INT8 manifest (the model file beside it) and training manifest (lineage).</summary>
internal sealed record ModelFiles(string Version, string Manifest, string TrainingManifest);

/// <summary>
/// What a model stage gets (<see cref="ModelRolloutStage.RunAsync"/>): the day it runs after, the production model the devices
/// run (the candidate's parent: its version, INT8 manifest, training manifest), the gateway's evaluation set of that day's
/// device audio (a name in <c>Gateway:Models:EvaluationSetDirectory</c>, which the register/model jobs gate on) and a work
/// directory of its own. The field data comes from the gateway (<c>ExportFieldDatasetAsync</c>: every labelled device clip).
/// </summary>
internal sealed record ModelStageInput(int Day, ModelFiles Production, string EvaluationSet, string WorkDirectory);

/// <summary>How the model stage makes the model it pushes (<c>--model-stage</c>).</summary>
internal enum ModelStageKind
{
    /// <summary>Re-calibrate the production model's activation ranges on the devices' clips (default).</summary>
    Recalibrate,
    /// <summary>Train a small model on a corpus generated in this run and quantize it.</summary>
    Train,
    /// <summary>Fine-tune the production model's float weights on the day's field dataset (plus a replay corpus) with the gateway's FineTune job.</summary>
    FineTune,
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.Shared.Processes;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Training;

/// <summary>What a model job does.</summary>
public enum ModelJobKind
{
    /// <summary>train.py on an exported dataset, INT8 quantization, then everything <see cref="Register"/> does.</summary>
    Train = 1,

    /// <summary>A model built elsewhere (edgekws-model build-int8): streaming evaluation, gate, sign, register.</summary>
    Register = 2,

    /// <summary>train.py --init-from a registered model's float weights on a field dataset (plus a replay of the base dataset),
    /// INT8 quantization, then the gate on the base streams AND the field dataset's held-out slice (<see cref="FineTuneSteps"/>).</summary>
    FineTune = 3,
}

/// <summary>State of a model job.</summary>
public enum ModelJobState
{
    /// <summary>Waiting for the job before it (one job runs at a time: training takes the CPU).</summary>
    Queued = 1,

    /// <summary>Running.</summary>
    Running = 2,

    /// <summary>Registered (<see cref="ModelJob.Model"/> says whether the gate promoted it).</summary>
    Succeeded = 3,

    /// <summary>Failed; <see cref="ModelJob.Error"/> says where and why.</summary>
    Failed = 4,
}

/// <summary>
/// A model job request (HTTP body of <c>POST /api/model-jobs</c> and <c>POST /api/registry/models</c>). Inputs are names the
/// gateway resolves in its own directories (<see cref="ServerName"/>), never server paths; a field the record does not know
/// (for example the old <c>manifestPath</c>) is refused by name rather than ignored.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ModelJobRequest
{
    /// <summary>Longest model id.</summary>
    public const int MaxModelIdLength = 64;

    /// <summary>Most training epochs a job may ask for.</summary>
    public const int MaxEpochs = 10_000;

    /// <summary>Train (default) or Register.</summary>
    public ModelJobKind Kind { get; init; } = ModelJobKind.Train;

    /// <summary>Version of the new model (unique in the registry).</summary>
    public string? ModelVersion { get; init; }

    /// <summary>Model family id written to the manifest (Train).</summary>
    public string ModelId { get; init; } = "kws";

    /// <summary>Train: an exported dataset (<c>edgekws-dataset/1</c>, from edgekws-dataset or the gateway's export), named by its
    /// directory under <c>Gateway:Labeling:DatasetDirectory</c> (where <c>POST /api/review/datasets</c> writes). FineTune: the field
    /// dataset (same place); its <c>test</c> split is the held-out slice the gate judges on, with the clips' WAVs under <c>clips/</c>.</summary>
    public string? Dataset { get; init; }

    /// <summary>FineTune: the registered model to start from (null: the production model); it must have float weights.</summary>
    public string? ParentVersion { get; init; }

    /// <summary>FineTune: the base training dataset replayed in every epoch against forgetting (null: no replay), named by its
    /// directory under <c>Gateway:Models:ImportDirectory</c>.</summary>
    public string? ReplayDataset { get; init; }

    /// <summary>FineTune: replay windows per epoch (null: the trainer's default, as many as the field windows of the epoch).</summary>
    public int? ReplayWindowsPerEpoch { get; init; }

    /// <summary>FineTune: learning rate (null: the trainer's fine-tuning default).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Register: the float ONNX the INT8 model was quantized from, named by its place under <c>Gateway:Models:ImportDirectory</c>
    /// (null: <c>STEM.float.onnx</c> next to <c>STEM.training-manifest.json</c>, or the training manifest's <c>onnx.file</c> beside it, when
    /// one exists; else the model is registered without float weights and cannot be fine-tuned).</summary>
    public string? FloatModel { get; init; }

    /// <summary>The evaluation streams (<c>edgekws-streams/1</c> file, see <see cref="EvaluationSetFile"/>), named by its place under
    /// <c>Gateway:Models:EvaluationSetDirectory</c>.</summary>
    public string? EvaluationSet { get; init; }

    /// <summary>FineTune: streams (<c>edgekws-streams/1</c>, under <c>Gateway:Models:EvaluationSetDirectory</c>) that neither model trained
    /// on and the gate does not read, on which the candidate's threshold is raised until it false-accepts no more than production
    /// (<see cref="EdgeKws.ModelLoop.Evaluation.OperatingPointMatch"/>). Null: the parent's threshold (or the requested
    /// <see cref="Threshold"/>, which cannot be combined with it).</summary>
    public string? OperatingPointSet { get; init; }

    /// <summary>Trainer seed.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Trainer's tiny configuration (16 channels x 2 blocks, 20 epochs): tests and smoke runs.</summary>
    public bool Tiny { get; init; }

    /// <summary>Trainer epochs (null: the trainer's default).</summary>
    public int? Epochs { get; init; }

    /// <summary>Deployed threshold written to the manifest (null: the trainer's suggestion).</summary>
    public float? Threshold { get; init; }

    /// <summary>Register as the first production model (only when there is none): the model devices are provisioned with.</summary>
    public bool Bootstrap { get; init; }

    /// <summary>Gate FA/hour margin (null: one false accept over the evaluated hours).</summary>
    public double? FaMargin { get; init; }

    /// <summary>Gate FRR margin (null: max(1 %, one keyword)).</summary>
    public double? FrrMargin { get; init; }

    /// <summary>Register: the INT8 device manifest (its model file beside it), named by its place under <c>Gateway:Models:ImportDirectory</c>.</summary>
    public string? Manifest { get; init; }

    /// <summary>Register: the trainer's training-manifest.json, named by its place under <c>Gateway:Models:ImportDirectory</c>.</summary>
    public string? TrainingManifest { get; init; }

    /// <summary>Null when the request's values are acceptable (before any file is looked at), else the first problem, naming the field.</summary>
    public string? RefuseValues()
    {
        if (string.IsNullOrWhiteSpace(ModelVersion) || ModelVersion.Length > Shared.Contracts.WireLimits.MaxModelVersionLength || ModelVersion.Any(char.IsControl))
            return $"modelVersion is required (1..{Shared.Contracts.WireLimits.MaxModelVersionLength} characters, no control characters)";
        if (!Enum.IsDefined(Kind)) return $"kind {(int)Kind} is not Train, Register or FineTune";
        if (string.IsNullOrWhiteSpace(ModelId) || ModelId.Length > MaxModelIdLength || ModelId.Any(char.IsControl))
            return $"modelId must be 1..{MaxModelIdLength} characters without control characters";
        if (Epochs is < 1 or > MaxEpochs) return $"epochs must be in 1..{MaxEpochs}";
        if (Threshold is { } t && !(t is > 0 and < 1)) return "threshold must be in (0, 1)";
        if (FaMargin is { } fa && !(double.IsFinite(fa) && fa >= 0)) return "faMargin must be a finite number >= 0";
        if (FrrMargin is { } frr && !(frr is >= 0 and <= 1)) return "frrMargin must be in [0, 1]";
        if (Kind != ModelJobKind.FineTune && (ParentVersion ?? ReplayDataset ?? OperatingPointSet) is not null)
            return "parentVersion, replayDataset and operatingPointSet belong to FineTune jobs";
        if (ReplayWindowsPerEpoch is { } w && (w < 1 || ReplayDataset is null)) return "replayWindowsPerEpoch needs replayDataset and must be >= 1";
        if (OperatingPointSet is not null && Threshold is not null) return "threshold and operatingPointSet exclude each other (one names the threshold, the other chooses it)";
        if (LearningRate is { } lr && !(lr is > 0 and < 1)) return "learningRate must be in (0, 1)";
        if (Kind == ModelJobKind.FineTune && Bootstrap) return "a FineTune job is gated against production: bootstrap does not apply";
        return null;
    }
}

/// <summary>Where a job's inputs are on the server (resolved from the request's names; never shown to or taken from the API).</summary>
/// <param name="DatasetDirectory">Train: the dataset directory.</param>
/// <param name="EvaluationSetPath">The evaluation streams file.</param>
/// <param name="ManifestPath">Register: the INT8 manifest.</param>
/// <param name="TrainingManifestPath">Register: the training manifest.</param>
/// <param name="FloatModelPath">Register: the float ONNX, when given or found beside the training manifest.</param>
/// <param name="ReplayDatasetDirectory">FineTune: the replayed base dataset.</param>
/// <param name="OperatingPointSetPath">FineTune: the streams the candidate's threshold is matched on.</param>
internal sealed record ModelJobInputs(string? DatasetDirectory, string EvaluationSetPath, string? ManifestPath, string? TrainingManifestPath,
    string? FloatModelPath = null, string? ReplayDatasetDirectory = null, string? OperatingPointSetPath = null);

/// <summary>A model job and what it did.</summary>
/// <param name="Id">Job id.</param>
/// <param name="Request">What was asked.</param>
/// <param name="State">Where it stands.</param>
/// <param name="CreatedUtc">When submitted.</param>
/// <param name="FinishedUtc">When finished.</param>
/// <param name="Steps">One line per finished step with its wall time ("train: 2.1 s ...").</param>
/// <param name="Error">Why it failed.</param>
/// <param name="Model">The registered model (stage Candidate, Refused or Production).</param>
/// <param name="WorkDirectory">Where its files are (trained/, int8/, evaluation/, gate/).</param>
public sealed record ModelJob(string Id, ModelJobRequest Request, ModelJobState State, DateTimeOffset CreatedUtc, DateTimeOffset? FinishedUtc,
    IReadOnlyList<string> Steps, string? Error, RegisteredModel? Model, string WorkDirectory);

/// <summary>
/// Runs model jobs one at a time in the background: train (tools/train/train.py with Debian's python3; the trainer reads an
/// exported dataset and never computes features), quantize (<see cref="Int8ModelBuilder"/>, static INT8 QDQ calibrated on
/// the dataset's training split), evaluate on streaming audio (<see cref="StreamingEvaluator"/>: the device's front end and
/// detector), gate against the production model on the same streams (<see cref="PromotionGate"/>), sign and register
/// (<see cref="ModelRegistry"/>). Job records live in memory (a restart forgets them); what they produce is in the registry
/// and the work directory.
/// </summary>
/// <param name="registry">Where models are registered.</param>
/// <param name="options">Directories, trainer and timeouts.</param>
/// <param name="datasetDirectory">Where training datasets are named from (<c>Gateway:Labeling:DatasetDirectory</c>).</param>
/// <param name="clock">Time of jobs.</param>
/// <param name="logger">Job outcomes.</param>
public sealed class ModelJobs(ModelRegistry registry, ModelLoopOptions options, string datasetDirectory, TimeProvider clock, ILogger<ModelJobs> logger)
{
    private readonly ConcurrentDictionary<string, ModelJob> _jobs = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _one = new(1, 1);
    private long _next;

    /// <summary>Every job, newest first.</summary>
    public IReadOnlyList<ModelJob> List() => _jobs.Values.OrderByDescending(j => j.CreatedUtc).ThenByDescending(j => j.Id, StringComparer.Ordinal).ToList();

    /// <summary>One job, or false.</summary>
    public bool TryGet(string id, out ModelJob? job) => _jobs.TryGetValue(id, out job);

    /// <summary>Queues a job; throws <see cref="ArgumentException"/> naming the problem of a bad request.</summary>
    public ModelJob Submit(ModelJobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ModelJobInputs? inputs = null;
        if ((request.RefuseValues() ?? Resolve(request, out inputs)) is { } problem)
        {
            throw new ArgumentException(problem);
        }
        DateTimeOffset now = clock.GetUtcNow();
        string id = string.Create(CultureInfo.InvariantCulture, $"{now:yyyyMMddHHmmss}-{Interlocked.Increment(ref _next)}");
        string work = Path.GetFullPath(Path.Combine(options.WorkDirectory, id));
        var job = new ModelJob(id, request, ModelJobState.Queued, now, null, [], null, null, work);
        _jobs[id] = job;
        _ = Task.Run(() => RunAsync(job, inputs!));
        return job;
    }

    /// <summary>
    /// The request's names resolved in the gateway's directories, or the first problem (naming the field). Every name's form is
    /// checked before any file is looked at, so what a refusal says never depends on what exists outside those directories.
    /// </summary>
    private string? Resolve(ModelJobRequest r, out ModelJobInputs? inputs)
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

    /// <summary>Waits until the job finishes (tests, CLI --wait).</summary>
    public async Task<ModelJob> WaitAsync(string id, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (!_jobs.TryGetValue(id, out ModelJob? job)) throw new ArgumentException($"no job '{id}'");
            if (job.State is ModelJobState.Succeeded or ModelJobState.Failed) return job;
            if (sw.Elapsed > timeout) throw new TimeoutException($"job '{id}' still {job.State} after {timeout}");
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(ModelJob job, ModelJobInputs inputs)
    {
        await _one.WaitAsync().ConfigureAwait(false);
        var steps = new List<string>();
        try
        {
            _jobs[job.Id] = job with { State = ModelJobState.Running };
            Directory.CreateDirectory(job.WorkDirectory);
            RegisteredModel model = await RunStepsAsync(job.Request, inputs, job.WorkDirectory, steps).ConfigureAwait(false);
            _jobs[job.Id] = job with { State = ModelJobState.Succeeded, FinishedUtc = clock.GetUtcNow(), Steps = steps, Model = model };
            logger.LogInformation("model job {Id}: {Version} registered as {Stage}: {Gate}", job.Id, model.ModelVersion, model.Stage, model.GateSummary);
        }
#pragma warning disable CA1031 // A job failure of any kind is the job's result, reported through the API; it must not kill the gateway.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _jobs[job.Id] = job with { State = ModelJobState.Failed, FinishedUtc = clock.GetUtcNow(), Steps = steps, Error = ex.Message };
            logger.LogWarning(ex, "model job {Id} failed", job.Id);
        }
        finally
        {
            _one.Release();
        }
    }

    private async Task<RegisteredModel> RunStepsAsync(ModelJobRequest r, ModelJobInputs inputs, string work, List<string> steps)
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

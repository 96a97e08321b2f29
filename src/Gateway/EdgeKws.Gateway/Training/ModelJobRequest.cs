using System.Text.Json.Serialization;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;

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

    /// <summary>The evaluation streams (<c>edgekws-streams/1</c> file, see <see cref="EdgeKws.ModelLoop.Evaluation.EvaluationSetFile"/>), named by its place under
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

using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.Shared.Signing;

namespace EdgeKws.Gateway.Registry;

/// <summary>
/// The gateway's model registry: signs device manifests with the release key and stores every model with its lineage
/// (dataset, feature configuration, trainer commit, parent), its signed package, its streaming evaluation and the promotion
/// gate's verdict. Exactly one registered model is <see cref="ModelStage.Production"/> at a time (what the fleet runs).
/// </summary>
public sealed class ModelRegistry
{
    private readonly ModelLoopOptions _options;
    private readonly Lock _stageLock = new();

    /// <summary>Creates the registry over <paramref name="store"/>.</summary>
    public ModelRegistry(IGatewayStore store, ModelLoopOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        Store = store;
        _options = options;
    }

    /// <summary>The store.</summary>
    public IGatewayStore Store { get; }

    /// <summary>The production model, or null when none is registered as production yet.</summary>
    public RegisteredModel? Production => Store.ReadRegisteredModels().FirstOrDefault(m => m.Stage == ModelStage.Production);

    /// <summary>
    /// Loads the release signing key from <see cref="ModelLoopOptions.SigningKeyPath"/>. Refuses a missing setting, a missing
    /// file, a file readable by group or others (the key must be 0600/0400, owned by the gateway's user) and anything that is
    /// not an unencrypted P-256 private key, each with a reason that names the fix.
    /// </summary>
    public ManifestSigner LoadSigner()
    {
        string? path = _options.SigningKeyPath;
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidOperationException("Gateway:Models:SigningKeyPath is not set: the gateway has no release key to sign models with (docs/model-updates.md, \"Release key\")");
        }
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"Gateway:Models:SigningKeyPath: file '{path}' does not exist");
        }
        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode = File.GetUnixFileMode(path);
            const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                                        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & Others) != 0)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Gateway:Models:SigningKeyPath: '{path}' has mode {Convert.ToString((int)mode, 8)}: a private key must not be accessible to group or others (chmod 600 it)"));
            }
        }
        if (!ManifestSigner.TryCreate(File.ReadAllText(path), out ManifestSigner? signer, out string reason))
        {
            throw new InvalidOperationException($"Gateway:Models:SigningKeyPath '{path}': {reason}");
        }
        return signer!;
    }

    /// <summary>
    /// Signs and stores a built model. <paramref name="gate"/> null means there was no production model to compare with
    /// (allowed only then). <paramref name="bootstrap"/> registers it directly as production: only when none exists yet
    /// (the model devices are provisioned with at the factory). Otherwise the stage is Candidate when the gate promoted it
    /// and Refused when it did not. <paramref name="floatModelPath"/> (null: none) is the float ONNX the INT8 model was quantized
    /// from: stored with it when its SHA-256 is the training manifest's <c>onnx.sha256</c>, refused otherwise; a model registered
    /// without float weights cannot be fine-tuned.
    /// </summary>
    public RegisteredModel Register(string int8ManifestPath, string trainingManifestPath, StreamingEvaluation evaluation, GateReport? gate,
        bool bootstrap, DateTimeOffset nowUtc, string? floatModelPath = null, FineTuneLineage? fineTune = null)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        byte[] manifest = File.ReadAllBytes(int8ManifestPath);
        JsonObject m = JsonNode.Parse(manifest)?.AsObject() ?? throw new InvalidDataException($"{int8ManifestPath} is not a JSON object");
        string Field(string name) => m[name]?.GetValue<string>() is { Length: > 0 } v ? v : throw new InvalidDataException($"{int8ManifestPath}: '{name}' is missing");
        string version = Field("modelVersion");
        string fileName = Field("fileName");
        if (fileName != Path.GetFileName(fileName) || fileName is "." or ".." || fileName.Contains('\\', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{int8ManifestPath}: 'fileName' must be a plain file name next to the manifest, got '{fileName}'");
        }
        byte[] model = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(int8ManifestPath))!, fileName));
        string sha = Convert.ToHexStringLower(SHA256.HashData(model));
        if (!string.Equals(sha, Field("sha256"), StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"{int8ManifestPath}: sha256 {Field("sha256")} does not match the model file {fileName} ({sha})");
        }
        if (!string.Equals(evaluation.Report.ModelSha256, sha, StringComparison.OrdinalIgnoreCase) || evaluation.Report.ModelVersion != version)
        {
            throw new InvalidOperationException($"the evaluation is of {evaluation.Report.ModelVersion} ({evaluation.Report.ModelSha256}), not of {version} ({sha})");
        }

        byte[] trainingBytes = File.ReadAllBytes(trainingManifestPath);
        using JsonDocument training = JsonDocument.Parse(trainingBytes);
        JsonElement t = training.RootElement;
        string? Text(string name) => t.TryGetProperty(name, out JsonElement e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        string datasetId = Text("datasetId") ?? throw new InvalidDataException($"{trainingManifestPath}: 'datasetId' is missing");
        string featureHash = Field("featureConfigHash");
        if (!string.Equals(Text("featureConfigHash"), featureHash, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"{trainingManifestPath}: featureConfigHash {Text("featureConfigHash")} differs from the device manifest's {featureHash}");
        }
        bool? dirty = t.TryGetProperty("codeDirty", out JsonElement d) && d.ValueKind is JsonValueKind.True or JsonValueKind.False ? d.GetBoolean() : null;
        byte[]? floatModel = floatModelPath is null ? null : ReadFloatWeights(floatModelPath, t, trainingManifestPath);

        lock (_stageLock)
        {
            RegisteredModel? production = Production;
            if (bootstrap && production is not null)
            {
                throw new InvalidOperationException($"bootstrap registers the first production model only; '{production.ModelVersion}' is production already (roll the new model out instead)");
            }
            if (gate is null && production is not null && !bootstrap)
            {
                throw new InvalidOperationException($"'{production.ModelVersion}' is production: a new model must be gated against it");
            }
            using ManifestSigner signer = LoadSigner();
            byte[] signature = signer.Sign(manifest);
            EvaluationReport r = evaluation.Report;
            bool promote = gate?.Promote ?? true;
            var record = new RegisteredModel(
                ModelId: Field("modelId"), ModelVersion: version, ParentVersion: m["parentVersion"]?.GetValue<string>() ?? production?.ModelVersion,
                DatasetId: datasetId, FeatureConfigHash: featureHash, CodeCommit: Text("codeCommit"), CodeDirty: dirty,
                FileName: fileName, ModelSha256: sha, ModelSizeBytes: model.Length, Threshold: m["threshold"]?.GetValue<float>() ?? r.ManifestThreshold,
                SigningKeyId: signer.KeyId,
                FaPerHour: r.FaPerHour, FalseRejectRate: r.FalseRejectRate, FaPerHourResolution: r.FaPerHourResolution, EvaluationSet: r.EvaluationSet,
                GatePromote: promote,
                GateSummary: gate?.Summary ?? (bootstrap ? "bootstrap: registered as the first production model (nothing to compare with)" : "no production model to compare with"),
                GateAgainstVersion: gate?.Current.ModelVersion,
                TrainingManifest: training.RootElement.Clone(),
                Evaluation: JsonSerializer.SerializeToElement(r, EvaluationJsonContext.Default.EvaluationReport),
                Gate: gate is null ? null : JsonSerializer.SerializeToElement(gate, EvaluationJsonContext.Default.GateReport),
                Stage: bootstrap ? ModelStage.Production : promote ? ModelStage.Candidate : ModelStage.Refused,
                RegisteredUtc: nowUtc, StageChangedUtc: nowUtc,
                FloatWeights: floatModel is null ? null : new FloatWeights(Convert.ToHexStringLower(SHA256.HashData(floatModel)), floatModel.Length),
                FineTune: fineTune);
            if (!Store.TryAddRegisteredModel(record, new ModelPackage(manifest, signature, model), floatModel, out string reason))
            {
                throw new InvalidOperationException(reason);
            }
            // Governance: erasing a device marks models trained on datasets it is a member of.
            Store.RecordModelDataset(version, datasetId);
            return record;
        }
    }

    /// <summary>
    /// A registered model's float weights written to <paramref name="path"/>, after checking the stored bytes still have the SHA-256
    /// registered with them; refuses (naming the fix) a model registered without float weights.
    /// </summary>
    public FloatWeights ExportFloatWeights(string version, string path)
    {
        if (!Store.TryGetRegisteredModel(version, out RegisteredModel? model))
        {
            throw new InvalidOperationException($"model '{version}' is not registered");
        }
        if (model!.FloatWeights is not { } registered || !Store.TryGetModelFloatWeights(version, out byte[]? bytes))
        {
            throw new InvalidOperationException($"model '{version}' was registered without float weights: it cannot be fine-tuned (register it with its float ONNX, "
                + "floatModel in the request or <stem>.float.onnx next to its training manifest)");
        }
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes!));
        if (!string.Equals(sha, registered.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"model '{version}': the stored float weights have SHA-256 {sha}, registered as {registered.Sha256}: refusing to fine-tune from them");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, bytes!);
        return registered;
    }

    /// <summary>The float ONNX bytes, refused unless their SHA-256 is the training manifest's <c>onnx.sha256</c> (its lineage).</summary>
    private static byte[] ReadFloatWeights(string floatModelPath, JsonElement training, string trainingManifestPath)
    {
        byte[] bytes = File.ReadAllBytes(floatModelPath);
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        string? expected = training.TryGetProperty("onnx", out JsonElement onnx) && onnx.ValueKind == JsonValueKind.Object
            && onnx.TryGetProperty("sha256", out JsonElement s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        if (expected is null)
        {
            throw new InvalidDataException($"{trainingManifestPath}: 'onnx.sha256' is missing: the float weights {Path.GetFileName(floatModelPath)} cannot be tied to this model");
        }
        if (!string.Equals(sha, expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"float weights {Path.GetFileName(floatModelPath)} have SHA-256 {sha}, the training manifest says {expected}: not this model's weights (or tampered)");
        }
        return bytes;
    }

    /// <summary>Moves <paramref name="version"/> to <paramref name="stage"/>; making one model production retires the previous one.</summary>
    public void SetStage(string version, ModelStage stage, DateTimeOffset nowUtc)
    {
        lock (_stageLock)
        {
            if (!Store.TryGetRegisteredModel(version, out RegisteredModel? model))
            {
                throw new InvalidOperationException($"model '{version}' is not registered");
            }
            if (stage == ModelStage.Production)
            {
                foreach (RegisteredModel p in Store.ReadRegisteredModels().Where(x => x.Stage == ModelStage.Production && x.ModelVersion != version))
                {
                    Store.UpdateRegisteredModel(p with { Stage = ModelStage.Retired, StageChangedUtc = nowUtc });
                }
            }
            if (model!.Stage != stage)
            {
                Store.UpdateRegisteredModel(model with { Stage = stage, StageChangedUtc = nowUtc });
            }
        }
    }

    /// <summary>Writes a registered model's manifest (as <c>manifest.json</c>) and model file into <paramref name="directory"/>;
    /// returns the manifest path (what <see cref="StreamingEvaluator"/> and the device loader take).</summary>
    public string Export(string version, string directory)
    {
        if (!Store.TryGetRegisteredModel(version, out RegisteredModel? model) || !Store.TryGetModelPackage(version, out ModelPackage? package))
        {
            throw new InvalidOperationException($"model '{version}' is not registered");
        }
        Directory.CreateDirectory(directory);
        string manifestPath = Path.Combine(directory, "manifest.json");
        File.WriteAllBytes(manifestPath, package!.Manifest);
        File.WriteAllBytes(manifestPath + ".sig", package.Signature);
        File.WriteAllBytes(Path.Combine(directory, model!.FileName), package.Model);
        return manifestPath;
    }
}

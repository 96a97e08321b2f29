using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Labeling;

/// <summary>
/// Registers the files the labeling worker decides with (its verifier model and its label calibration) in the gateway's labeling
/// registry (<see cref="ILabelingModelStore"/>), with their lineage, before the first label is decided with them: every label's
/// provenance names the verifier's version and the calibration's hash, and the registry keeps the very files and what they were
/// made from (docs/labeling.md "The labeling registry"). Idempotent: a file already registered (same hash) is not written again.
/// </summary>
public static class LabelingModelRegistration
{
    /// <summary>Length of the hash prefix a label's provenance names a calibration by.</summary>
    public const int ProvenanceHashLength = 12;

    /// <summary>Registers a verifier from its manifest (the ONNX file it names beside it, and the training manifest
    /// <c>ID-VERSION.training-manifest.json</c> when present) and returns its record, new or already registered.</summary>
    /// <exception cref="InvalidDataException">The manifest is unreadable or its file's hash differs from the manifest's.</exception>
    public static LabelingModelRecord RegisterVerifier(ILabelingModelStore store, string manifestPath, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(store);
        JsonObject manifest = ReadObject(manifestPath);
        string fileName = RequiredString(manifest, "fileName", manifestPath);
        string version = RequiredString(manifest, "modelVersion", manifestPath);
        string id = RequiredString(manifest, "modelId", manifestPath);
        string directory = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        byte[] content = File.ReadAllBytes(Path.Combine(directory, fileName));
        string sha = Sha256(content);
        string? stated = (string?)manifest["sha256"];
        if (!string.Equals(stated, sha, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"{manifestPath}: {fileName} has sha256 {sha}, the manifest says {stated ?? "nothing"}");
        }
        var lineage = new JsonObject { ["manifest"] = manifest };
        string trainingManifest = Path.Combine(directory, $"{id}-{version}.training-manifest.json");
        if (File.Exists(trainingManifest))
        {
            lineage["trainingManifest"] = ReadObject(trainingManifest);
        }
        return Register(store, new LabelingModelRecord(sha, LabelingModelKinds.Verifier, version, fileName, content.Length, nowUtc, lineage.ToJsonString()), content);
    }

    /// <summary>Registers a label calibration file and returns its record, new or already registered. Its version is its hash
    /// prefix (the file has no version of its own); its lineage is the file itself (what it was fitted on, with which models).</summary>
    /// <exception cref="InvalidDataException">The file is not a JSON object.</exception>
    public static LabelingModelRecord RegisterCalibration(ILabelingModelStore store, string calibrationPath, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(store);
        // Read once: the registered bytes are the ones parsed for the lineage.
        byte[] content = File.ReadAllBytes(calibrationPath);
        JsonObject calibration = ParseObject(content, calibrationPath);
        string sha = Sha256(content);
        var lineage = new JsonObject
        {
            ["format"] = calibration["format"]?.DeepClone(),
            ["fittedOn"] = calibration["fittedOn"]?.DeepClone(),
            ["examples"] = calibration["examples"]?.DeepClone(),
            ["trueAccepts"] = calibration["trueAccepts"]?.DeepClone(),
            ["logLoss"] = calibration["logLoss"]?.DeepClone(),
            ["featureNames"] = calibration["featureNames"]?.DeepClone(),
            ["weights"] = calibration["weights"]?.DeepClone(),
        };
        return Register(store, new LabelingModelRecord(sha, LabelingModelKinds.Calibration, sha[..ProvenanceHashLength], Path.GetFileName(calibrationPath),
            content.Length, nowUtc, lineage.ToJsonString()), content);
    }

    private static LabelingModelRecord Register(ILabelingModelStore store, LabelingModelRecord record, byte[] content)
    {
        if (store.TryAddLabelingModel(record, content))
        {
            return record;
        }
        // Registered before (this gateway's earlier start, or another instance): that record, with its first registration time.
        return store.ReadLabelingModels().First(r => r.Sha256 == record.Sha256);
    }

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static JsonObject ReadObject(string path) => ParseObject(File.ReadAllBytes(path), path);

    private static JsonObject ParseObject(byte[] utf8, string path)
    {
        try
        {
            ReadOnlySpan<byte> json = utf8.AsSpan().StartsWith("\uFEFF"u8) ? utf8.AsSpan(3) : utf8; // an editor's BOM
            return JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}");
        }
    }

    private static string RequiredString(JsonObject o, string name, string path) =>
        o[name] is JsonValue v && v.TryGetValue(out string? s) && !string.IsNullOrEmpty(s) ? s : throw new InvalidDataException($"{path}: no '{name}'");
}

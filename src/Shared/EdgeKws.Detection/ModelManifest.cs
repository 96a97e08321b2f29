using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.Detection;

/// <summary>
/// The JSON document that travels with a keyword model: what the model is, the exact bytes it must
/// have, the tensor contract, the streaming parameters and the MFCC configuration it was trained on.
/// </summary>
/// <remarks>
/// Every member is nullable so that a missing field is reported by name by <see cref="TryValidate"/>
/// instead of surfacing as a serializer exception. (De)serialization goes through the
/// source-generated <see cref="ModelManifestJsonContext"/> only: no reflection, AOT/trim clean.
/// </remarks>
public sealed class ModelManifest
{
    /// <summary>The only manifest schema this code reads.</summary>
    public const int CurrentSchemaVersion = 1;

    public int? SchemaVersion { get; init; }
    public string? ModelId { get; init; }
    public string? ModelVersion { get; init; }
    /// <summary>Version this model was fine-tuned or re-quantized from; null for a first model.</summary>
    public string? ParentVersion { get; init; }
    public DateTimeOffset? CreatedUtc { get; init; }

    /// <summary>Model file name, resolved next to the manifest; a plain name, never a path.</summary>
    public string? FileName { get; init; }
    /// <summary>Lower-case hex SHA-256 of the model file bytes.</summary>
    public string? Sha256 { get; init; }
    public long? SizeBytes { get; init; }

    public ModelInputSpec? Input { get; init; }
    public string? OutputName { get; init; }
    /// <summary>Class labels in output order.</summary>
    public string[]? Labels { get; init; }
    /// <summary>Index in <see cref="Labels"/> (and in the output tensor) of the keyword class.</summary>
    public int? KeywordIndex { get; init; }

    public int? WindowFrames { get; init; }
    /// <summary>Frames between two inferences.</summary>
    public int? StrideFrames { get; init; }
    /// <summary>Hop of the MFCC front end, to turn frame counts into stream time.</summary>
    public int? FrameHopMs { get; init; }
    /// <summary>Smoothed keyword posterior at or above which a detection fires, in (0, 1].</summary>
    public float? Threshold { get; init; }
    /// <summary>Length of the posterior moving average in frames; a positive multiple of
    /// <see cref="StrideFrames"/> (the average runs over SmoothingFrames / StrideFrames inferences).</summary>
    public int? SmoothingFrames { get; init; }
    /// <summary>Minimum time between two detections.</summary>
    public int? RefractoryMs { get; init; }

    /// <summary>Lower-case hex SHA-256 of the canonical MFCC configuration the model was trained on.</summary>
    public string? FeatureConfigHash { get; init; }

    /// <summary>Parses a manifest; <paramref name="reason"/> says why when it cannot. Does not validate.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, out ModelManifest? manifest, out string reason)
    {
        try
        {
            manifest = JsonSerializer.Deserialize(utf8Json, ModelManifestJsonContext.Default.ModelManifest);
        }
        catch (JsonException ex)
        {
            manifest = null;
            reason = $"model manifest is not valid JSON: {ex.Message}";
            return false;
        }
        if (manifest is null)
        {
            reason = "model manifest is empty (JSON null)";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>Indented JSON in the canonical field names.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ModelManifestJsonContext.Default.ModelManifest);

    /// <summary>
    /// Checks every field; <paramref name="reason"/> lists all problems at once, naming the JSON
    /// fields, so a bad manifest is fixed in one round.
    /// </summary>
    public bool TryValidate(out string reason)
    {
        var problems = new List<string>();
        void Missing(string field) => problems.Add($"'{field}' is missing");

        if (SchemaVersion is null) Missing("schemaVersion");
        else if (SchemaVersion != CurrentSchemaVersion)
            problems.Add($"'schemaVersion' is {SchemaVersion}, this device reads {CurrentSchemaVersion}");

        if (string.IsNullOrWhiteSpace(ModelId)) Missing("modelId");
        if (string.IsNullOrWhiteSpace(ModelVersion)) Missing("modelVersion");
        if (ParentVersion is not null && string.IsNullOrWhiteSpace(ParentVersion))
            problems.Add("'parentVersion' is blank; omit it for a first model");
        if (CreatedUtc is null) Missing("createdUtc");
        else if (CreatedUtc.Value.Offset != TimeSpan.Zero)
            problems.Add($"'createdUtc' must be UTC, got offset {CreatedUtc.Value.Offset}");

        if (string.IsNullOrWhiteSpace(FileName)) Missing("fileName");
        else if (FileName != Path.GetFileName(FileName) || FileName is "." or ".." || FileName.Contains('\\', StringComparison.Ordinal))
            problems.Add($"'fileName' must be a plain file name next to the manifest, got '{FileName}'");

        if (Sha256 is null) Missing("sha256");
        else if (!IsSha256Hex(Sha256)) problems.Add($"'sha256' must be 64 hex digits, got '{Sha256}'");

        if (SizeBytes is null) Missing("sizeBytes");
        else if (SizeBytes <= 0) problems.Add($"'sizeBytes' must be positive, got {SizeBytes}");

        if (WindowFrames is null) Missing("windowFrames");
        else if (WindowFrames <= 0) problems.Add($"'windowFrames' must be positive, got {WindowFrames}");

        if (StrideFrames is null) Missing("strideFrames");
        else if (StrideFrames <= 0 || (WindowFrames > 0 && StrideFrames > WindowFrames))
            problems.Add($"'strideFrames' must be in [1, windowFrames], got {StrideFrames}");

        if (FrameHopMs is null) Missing("frameHopMs");
        else if (FrameHopMs <= 0) problems.Add($"'frameHopMs' must be positive, got {FrameHopMs}");

        if (Threshold is null) Missing("threshold");
        else if (!(Threshold > 0f && Threshold <= 1f)) problems.Add($"'threshold' must be in (0, 1], got {Threshold}");

        if (SmoothingFrames is null) Missing("smoothingFrames");
        else if (StrideFrames > 0 && (SmoothingFrames < StrideFrames || SmoothingFrames % StrideFrames != 0))
            problems.Add($"'smoothingFrames' must be a positive multiple of strideFrames ({StrideFrames}), got {SmoothingFrames}");

        if (RefractoryMs is null) Missing("refractoryMs");
        else if (RefractoryMs < 0) problems.Add($"'refractoryMs' must not be negative, got {RefractoryMs}");

        // The wire's one spelling (64 lowercase hex digits, EdgeKws.Shared.Contracts.FeatureConfigHash):
        // a manifest hash is copied into every detection and clip, so an uppercase one would be
        // sent as a hash the gateway rejects.
        if (FeatureConfigHash is null) Missing("featureConfigHash");
        else if (!Shared.Contracts.FeatureConfigHash.TryValidate(FeatureConfigHash, "'featureConfigHash'", out string hashProblem))
            problems.Add(hashProblem);

        if (string.IsNullOrWhiteSpace(OutputName)) Missing("outputName");

        if (Labels is null) Missing("labels");
        else if (Labels.Length < 2) problems.Add($"'labels' needs at least 2 classes (background and keyword), got {Labels.Length}");
        else if (Array.Exists(Labels, string.IsNullOrWhiteSpace)) problems.Add("'labels' contains a blank label");

        if (KeywordIndex is null) Missing("keywordIndex");
        else if (Labels is not null && (KeywordIndex < 0 || KeywordIndex >= Labels.Length))
            problems.Add($"'keywordIndex' {KeywordIndex} is outside 'labels' (0..{Labels.Length - 1})");

        if (Input is null) Missing("input");
        else Input.Validate(WindowFrames, problems);

        if (problems.Count == 0)
        {
            reason = "";
            return true;
        }
        var sb = new StringBuilder("invalid model manifest: ");
        for (int i = 0; i < problems.Count; i++)
        {
            if (i > 0) sb.Append("; ");
            sb.Append(problems[i]);
        }
        reason = sb.ToString();
        return false;
    }

    internal static bool IsSha256Hex(string s)
    {
        if (s.Length != 64) return false;
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c)) return false;
        }
        return true;
    }

    internal string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"{ModelId} {ModelVersion} ({FileName})");
}

/// <summary>Element type of the model input tensor.</summary>
public enum ModelInputElementType
{
    /// <summary>32-bit float MFCCs; quantization, if any, is inside the graph.</summary>
    Float,
    /// <summary>Signed 8-bit MFCCs, quantized on the device with the manifest's scale and zero point.</summary>
    Int8,
}

/// <summary>The model's input tensor contract.</summary>
public sealed class ModelInputSpec
{
    public const string FloatName = "float";
    public const string Int8Name = "int8";

    public string? Name { get; init; }
    /// <summary>[1, 1, windowFrames, coefficients].</summary>
    public int[]? Shape { get; init; }
    /// <summary>"float" or "int8".</summary>
    public string? ElementType { get; init; }
    /// <summary>int8 inputs: MFCC units per quantization step (real = scale * (q - zeroPoint)).</summary>
    public float? QuantScale { get; init; }
    /// <summary>int8 inputs: the quantized value of 0.0, in [-128, 127].</summary>
    public int? QuantZeroPoint { get; init; }

    /// <summary>Coefficients per frame (the last dimension of <see cref="Shape"/>).</summary>
    [JsonIgnore]
    public int Coefficients => Shape is { Length: 4 } s ? s[3] : 0;

    /// <summary>The parsed element type; only meaningful on a validated manifest.</summary>
    [JsonIgnore]
    public ModelInputElementType ParsedElementType =>
        string.Equals(ElementType, Int8Name, StringComparison.OrdinalIgnoreCase) ? ModelInputElementType.Int8 : ModelInputElementType.Float;

    internal void Validate(int? windowFrames, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(Name)) problems.Add("'input.name' is missing");

        if (Shape is null) problems.Add("'input.shape' is missing");
        else if (Shape.Length != 4 || Shape[0] != 1 || Shape[1] != 1 || Shape[2] <= 0 || Shape[3] <= 0)
            problems.Add($"'input.shape' must be [1, 1, windowFrames, coefficients], got [{string.Join(", ", Shape)}]");
        else if (windowFrames is not null && Shape[2] != windowFrames)
            problems.Add($"'input.shape' has {Shape[2]} frames but 'windowFrames' is {windowFrames}");

        bool isInt8 = string.Equals(ElementType, Int8Name, StringComparison.OrdinalIgnoreCase);
        if (ElementType is null) problems.Add("'input.elementType' is missing");
        else if (!isInt8 && !string.Equals(ElementType, FloatName, StringComparison.OrdinalIgnoreCase))
            problems.Add($"'input.elementType' must be \"float\" or \"int8\", got \"{ElementType}\"");

        if (isInt8)
        {
            if (QuantScale is null) problems.Add("'input.quantScale' is missing (required for int8 input)");
            else if (!(QuantScale > 0f) || !float.IsFinite(QuantScale.Value))
                problems.Add($"'input.quantScale' must be a positive finite number, got {QuantScale}");
            if (QuantZeroPoint is null) problems.Add("'input.quantZeroPoint' is missing (required for int8 input)");
            else if (QuantZeroPoint < sbyte.MinValue || QuantZeroPoint > sbyte.MaxValue)
                problems.Add($"'input.quantZeroPoint' must be in [-128, 127], got {QuantZeroPoint}");
        }
    }
}

/// <summary>Source-generated System.Text.Json metadata for <see cref="ModelManifest"/> (no reflection).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(ModelManifest))]
public sealed partial class ModelManifestJsonContext : JsonSerializerContext;

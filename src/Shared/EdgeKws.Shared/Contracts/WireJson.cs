using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace EdgeKws.Shared.Contracts;

/// <summary>
/// Source-generated System.Text.Json metadata for the JSON wire messages (no reflection, AOT-clean).
/// camelCase names, enums as strings, nulls omitted.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(DetectionReport))]
[JsonSerializable(typeof(Heartbeat))]
[JsonSerializable(typeof(HeartbeatTotals))]
[JsonSerializable(typeof(DriftSketch))]
[JsonSerializable(typeof(ModelStatus))]
[JsonSerializable(typeof(DeviceStatus))]
[JsonSerializable(typeof(EnrollmentQcReport))]
[JsonSerializable(typeof(NearMissReport))]
public sealed partial class WireJsonContext : JsonSerializerContext;

/// <summary>Serialize and parse-and-validate helpers over <see cref="WireJsonContext"/>.</summary>
public static class WireJson
{
    /// <summary>UTF-8 JSON of <paramref name="message"/>.</summary>
    public static byte[] Serialize<T>(T message, JsonTypeInfo<T> typeInfo) where T : IWireMessage =>
        JsonSerializer.SerializeToUtf8Bytes(message, typeInfo);

    /// <summary>UTF-8 JSON of a detection.</summary>
    public static byte[] Serialize(DetectionReport message) => Serialize(message, WireJsonContext.Default.DetectionReport);

    /// <summary>UTF-8 JSON of a heartbeat.</summary>
    public static byte[] Serialize(Heartbeat message) => Serialize(message, WireJsonContext.Default.Heartbeat);

    /// <summary>UTF-8 JSON of a drift sketch.</summary>
    public static byte[] Serialize(DriftSketch message) => Serialize(message, WireJsonContext.Default.DriftSketch);

    /// <summary>UTF-8 JSON of a model status.</summary>
    public static byte[] Serialize(ModelStatus message) => Serialize(message, WireJsonContext.Default.ModelStatus);

    /// <summary>UTF-8 JSON of a device status.</summary>
    public static byte[] Serialize(DeviceStatus message) => Serialize(message, WireJsonContext.Default.DeviceStatus);

    /// <summary>UTF-8 JSON of an enrollment QC report.</summary>
    public static byte[] Serialize(EnrollmentQcReport message) => Serialize(message, WireJsonContext.Default.EnrollmentQcReport);

    /// <summary>UTF-8 JSON of a near miss.</summary>
    public static byte[] Serialize(NearMissReport message) => Serialize(message, WireJsonContext.Default.NearMissReport);

    /// <summary>
    /// Parses and validates a message at a trust boundary: size, JSON syntax, then
    /// <see cref="IWireMessage.TryValidate"/>. Never throws on bad input; the reason says what was wrong.
    /// </summary>
    public static bool TryDeserialize<T>(ReadOnlySpan<byte> utf8Json, JsonTypeInfo<T> typeInfo, [NotNullWhen(true)] out T? message, out string reason)
        where T : class, IWireMessage
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        message = null;
        if (utf8Json.Length > WireLimits.MaxJsonBytes)
        {
            reason = $"{typeof(T).Name} payload is {utf8Json.Length} bytes (max {WireLimits.MaxJsonBytes})";
            return false;
        }
        T? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(utf8Json, typeInfo);
        }
        catch (JsonException ex)
        {
            reason = $"{typeof(T).Name} payload is not valid JSON for the schema: {ex.Message}";
            return false;
        }
        if (parsed is null)
        {
            reason = $"{typeof(T).Name} payload is JSON null";
            return false;
        }
        if (!parsed.TryValidate(out reason))
        {
            reason = typeof(T).Name + ": " + reason;
            return false;
        }
        message = parsed;
        return true;
    }
}

using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace EdgeKws.Shared.Contracts;

/// <summary>
/// Downlink model update: the gateway publishes one <see cref="ModelOffer"/> (JSON) on
/// <c>edgekws/v1/{deviceId}/cmd/model-offer</c>, then <see cref="ModelOffer.ChunkCount"/> binary
/// <see cref="ModelChunk"/> frames on <c>edgekws/v1/{deviceId}/cmd/model-chunk</c>, in any order,
/// possibly repeated (QoS 1 redelivery). The device answers on its <c>model-status</c> topic.
/// </summary>
public static class ModelTransfer
{
    /// <summary>Command name of the offer (see <see cref="Topics.Command"/>).</summary>
    public const string OfferCommand = "model-offer";

    /// <summary>Command name of a chunk.</summary>
    public const string ChunkCommand = "model-chunk";

    /// <summary>Command name asking the device to switch back to its previous slot (empty payload).</summary>
    public const string RollbackCommand = "model-rollback";

    /// <summary>Largest manifest accepted (a real one is under 1 KB).</summary>
    public const int MaxManifestBytes = 8 * 1024;

    /// <summary>Signature length: ECDSA P-256 in IEEE P1363 form (r || s, 32 bytes each, big-endian).</summary>
    public const int SignatureSizeBytes = 64;

    /// <summary>Largest chunk payload; keeps one MQTT message (and the device's one chunk buffer) small.</summary>
    public const int MaxChunkPayloadBytes = 16 * 1024;

    /// <summary>Most chunks in one transfer.</summary>
    public const int MaxChunkCount = 4096;

    /// <summary>Chunks needed for <paramref name="modelSizeBytes"/> bytes in <paramref name="chunkSizeBytes"/>-byte chunks.</summary>
    public static int GetChunkCount(long modelSizeBytes, int chunkSizeBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(modelSizeBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSizeBytes);
        return checked((int)((modelSizeBytes + chunkSizeBytes - 1) / chunkSizeBytes));
    }
}

/// <summary>
/// Starts a model transfer. <see cref="Manifest"/> is the exact manifest file (the bytes the
/// signature covers; the manifest names the model's SHA-256 and size, so the signature covers the
/// model too); JSON carries both byte fields as base64. The model follows as chunks: every chunk but
/// the last carries exactly <see cref="ChunkSizeBytes"/> bytes, so chunk i lands at offset
/// i x ChunkSizeBytes and the device can assemble out-of-order chunks without buffering them.
/// </summary>
public sealed class ModelOffer : IWireMessage
{
    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>Identifies this transfer; every chunk repeats it. A new id abandons any transfer in progress.</summary>
    public Guid TransferId { get; init; }

    /// <summary>The manifest file's exact bytes (UTF-8 JSON), base64 on the wire.</summary>
    public byte[] Manifest { get; init; } = [];

    /// <summary>ECDSA P-256 / SHA-256 signature over <see cref="Manifest"/>, IEEE P1363 (r || s, 64 bytes), base64 on the wire.</summary>
    public byte[] Signature { get; init; } = [];

    /// <summary>Chunks that follow.</summary>
    public int ChunkCount { get; init; }

    /// <summary>Payload bytes of every chunk except the last (which carries the remainder).</summary>
    public int ChunkSizeBytes { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason)
    {
        if (!Check.Schema(SchemaVersion, out reason))
        {
            return false;
        }
        if (TransferId == Guid.Empty)
        {
            reason = "transferId is missing or the empty GUID";
            return false;
        }
        if (Manifest is null || Manifest.Length == 0)
        {
            reason = "manifest is missing";
            return false;
        }
        if (Manifest.Length > ModelTransfer.MaxManifestBytes)
        {
            reason = $"manifest is {Manifest.Length} bytes (max {ModelTransfer.MaxManifestBytes})";
            return false;
        }
        if (Signature is null || Signature.Length != ModelTransfer.SignatureSizeBytes)
        {
            reason = $"signature is {Signature?.Length ?? 0} bytes, expected {ModelTransfer.SignatureSizeBytes} (ECDSA P-256, IEEE P1363 r||s)";
            return false;
        }
        if (ChunkCount is < 1 or > ModelTransfer.MaxChunkCount)
        {
            reason = $"chunkCount {ChunkCount} is outside 1..{ModelTransfer.MaxChunkCount}";
            return false;
        }
        if (ChunkSizeBytes is < 1 or > ModelTransfer.MaxChunkPayloadBytes)
        {
            reason = $"chunkSizeBytes {ChunkSizeBytes} is outside 1..{ModelTransfer.MaxChunkPayloadBytes}";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    /// <summary>UTF-8 JSON of this offer.</summary>
    public byte[] Serialize() => WireJson.Serialize(this, ModelTransferJsonContext.Default.ModelOffer);

    /// <summary>Parses and validates an offer payload; never throws on bad input.</summary>
    public static bool TryRead(ReadOnlySpan<byte> utf8Json, [NotNullWhen(true)] out ModelOffer? offer, out string reason) =>
        WireJson.TryDeserialize(utf8Json, ModelTransferJsonContext.Default.ModelOffer, out offer, out reason);
}

/// <summary>A validated chunk frame; <see cref="Payload"/> points into the frame it was read from.</summary>
/// <param name="TransferId">The transfer this chunk belongs to.</param>
/// <param name="Index">Chunk index, 0-based.</param>
/// <param name="Total">Chunk count of the transfer (must equal the offer's).</param>
/// <param name="Payload">The chunk's model bytes.</param>
public readonly ref struct ModelChunkView(Guid TransferId, int Index, int Total, ReadOnlySpan<byte> Payload)
{
    /// <summary>The transfer this chunk belongs to.</summary>
    public Guid TransferId { get; } = TransferId;

    /// <summary>Chunk index, 0-based.</summary>
    public int Index { get; } = Index;

    /// <summary>Chunk count of the transfer.</summary>
    public int Total { get; } = Total;

    /// <summary>The chunk's model bytes.</summary>
    public ReadOnlySpan<byte> Payload { get; } = Payload;
}

/// <summary>
/// Binary chunk frame of a model transfer. Layout, little-endian, <see cref="HeaderSizeBytes"/> bytes
/// of header then the payload:
/// <code>
///  0  4  magic "EKWM"
///  4  2  u16 schema version
///  6  2  u16 header length in bytes
///  8 16  transfer id (RFC 4122 byte order)
/// 24  4  u32 chunk index (0-based)
/// 28  4  u32 chunk count of the transfer
/// 32  4  u32 payload length in bytes (1..MaxChunkPayloadBytes)
/// 36 ..  payload
/// </code>
/// No checksum: MQTT runs over TCP, and the manifest's SHA-256 checks the assembled model end to end.
/// Allocation-free (spans in, caller-owned buffers).
/// </summary>
public static class ModelChunk
{
    /// <summary>Bytes of the v1 header.</summary>
    public const int HeaderSizeBytes = 36;

    internal const uint Magic = 0x4D57_4B45; // "EKWM" read as little-endian u32

    /// <summary>Frame size for a payload of <paramref name="payloadBytes"/>.</summary>
    public static int GetFrameSizeBytes(int payloadBytes) => HeaderSizeBytes + payloadBytes;

    /// <summary>Writes a chunk frame into <paramref name="destination"/> and returns the bytes written.</summary>
    public static int Write(Span<byte> destination, Guid transferId, int index, int total, ReadOnlySpan<byte> payload)
    {
        if (transferId == Guid.Empty)
        {
            throw new ArgumentException("transfer id must not be the empty GUID", nameof(transferId));
        }
        if (total is < 1 or > ModelTransfer.MaxChunkCount)
        {
            throw new ArgumentOutOfRangeException(nameof(total), total, $"chunk count must be 1..{ModelTransfer.MaxChunkCount}");
        }
        if (index < 0 || index >= total)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"chunk index must be 0..{total - 1}");
        }
        if (payload.Length is < 1 or > ModelTransfer.MaxChunkPayloadBytes)
        {
            throw new ArgumentException($"chunk payload is {payload.Length} bytes, must be 1..{ModelTransfer.MaxChunkPayloadBytes}", nameof(payload));
        }
        int size = GetFrameSizeBytes(payload.Length);
        if (destination.Length < size)
        {
            throw new ArgumentException($"destination is {destination.Length} bytes, the frame needs {size}", nameof(destination));
        }
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)WireLimits.SchemaVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], HeaderSizeBytes);
        transferId.TryWriteBytes(destination.Slice(8, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)index);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[28..], (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], (uint)payload.Length);
        payload.CopyTo(destination[HeaderSizeBytes..]);
        return size;
    }

    /// <summary>Validates a chunk frame; never throws on bad input, the reason names the bad field.</summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out ModelChunkView chunk, out string reason)
    {
        chunk = default;
        if (frame.Length < HeaderSizeBytes)
        {
            reason = $"model chunk is {frame.Length} bytes, shorter than the {HeaderSizeBytes}-byte header";
            return false;
        }
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        if (magic != Magic)
        {
            reason = $"model chunk has magic 0x{magic:x8}, expected 0x{Magic:x8} (\"EKWM\")";
            return false;
        }
        int schema = BinaryPrimitives.ReadUInt16LittleEndian(frame[4..]);
        if (!Check.Schema(schema, out reason))
        {
            reason = "model chunk: " + reason;
            return false;
        }
        int headerBytes = BinaryPrimitives.ReadUInt16LittleEndian(frame[6..]);
        if (headerBytes != HeaderSizeBytes)
        {
            reason = $"model chunk header length is {headerBytes}, expected {HeaderSizeBytes} for schema {schema}";
            return false;
        }
        var transferId = new Guid(frame.Slice(8, 16), bigEndian: true);
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(frame[24..]);
        uint total = BinaryPrimitives.ReadUInt32LittleEndian(frame[28..]);
        uint payloadBytes = BinaryPrimitives.ReadUInt32LittleEndian(frame[32..]);
        if (transferId == Guid.Empty)
        {
            reason = "model chunk has the empty transfer id";
            return false;
        }
        if (total is < 1 or > ModelTransfer.MaxChunkCount)
        {
            reason = $"model chunk total {total} is outside 1..{ModelTransfer.MaxChunkCount}";
            return false;
        }
        if (index >= total)
        {
            reason = $"model chunk index {index} is not below the chunk count {total}";
            return false;
        }
        if (payloadBytes is < 1 or > ModelTransfer.MaxChunkPayloadBytes)
        {
            reason = $"model chunk payload length {payloadBytes} is outside 1..{ModelTransfer.MaxChunkPayloadBytes}";
            return false;
        }
        if (frame.Length - HeaderSizeBytes != payloadBytes)
        {
            reason = $"model chunk carries {frame.Length - HeaderSizeBytes} payload bytes, header declares {payloadBytes} (truncated or padded)";
            return false;
        }
        chunk = new ModelChunkView(transferId, (int)index, (int)total, frame[HeaderSizeBytes..]);
        reason = string.Empty;
        return true;
    }
}

/// <summary>
/// Source-generated System.Text.Json metadata for <see cref="ModelOffer"/>; same options as
/// <see cref="WireJsonContext"/> (byte arrays are base64 strings, GUIDs the "D" format).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ModelOffer))]
public sealed partial class ModelTransferJsonContext : JsonSerializerContext;

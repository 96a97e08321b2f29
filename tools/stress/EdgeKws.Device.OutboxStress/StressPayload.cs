using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EdgeKws.Device.OutboxStress;

/// <summary>
/// Self-checking payload: [8-byte id][4-byte body length][body][32-byte SHA-256 of everything before].
/// The kill test verifies the trailer, and that its first 8 bytes match what the child reported.
/// The test project references this assembly, so both sides use this one format.
/// </summary>
public static class StressPayload
{
    public const int HeaderBytes = 12;
    public const int TrailerBytes = 32;

    public static byte[] Create(long id, int bodyBytes, Random random)
    {
        var payload = new byte[HeaderBytes + bodyBytes + TrailerBytes];
        BinaryPrimitives.WriteInt64LittleEndian(payload, id);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), bodyBytes);
        random.NextBytes(payload.AsSpan(HeaderBytes, bodyBytes));
        SHA256.HashData(payload.AsSpan(0, HeaderBytes + bodyBytes), payload.AsSpan(HeaderBytes + bodyBytes));
        return payload;
    }

    /// <summary>First 8 bytes of the trailer, as the child reports it.</summary>
    public static string Tag(ReadOnlySpan<byte> payload) =>
        Convert.ToHexString(payload.Slice(payload.Length - TrailerBytes, 8));

    public static bool TryVerify(ReadOnlySpan<byte> payload, out string problem)
    {
        if (payload.Length < HeaderBytes + TrailerBytes)
        {
            problem = $"payload of {payload.Length} bytes is shorter than header + trailer";
            return false;
        }

        int body = BinaryPrimitives.ReadInt32LittleEndian(payload[8..]);
        if (body != payload.Length - HeaderBytes - TrailerBytes)
        {
            problem = $"body length field {body} does not match payload length {payload.Length}";
            return false;
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(payload[..(HeaderBytes + body)], hash);
        if (!hash.SequenceEqual(payload[(HeaderBytes + body)..]))
        {
            problem = "SHA-256 trailer does not match the content";
            return false;
        }

        problem = string.Empty;
        return true;
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace EdgeKws.Shared.Contracts;

/// <summary>
/// The feature configuration hash on the wire: the full SHA-256 of the canonical MFCC configuration
/// (the same value as the MFCC front end's <c>MfccConfig.FeatureConfigHash</c> and the model manifest's
/// <c>featureConfigHash</c>). It ties every detection, clip, sketch and model to the features that
/// produced them, so it is never truncated: a 64-bit prefix would let two configurations collide.
/// Text form (JSON, MQTT user property <see cref="UserProperties.FeatureConfigHash"/>): exactly
/// <see cref="TextLength"/> lowercase hex digits, one spelling per hash so strings compare ordinally.
/// Binary form (clip frames): the <see cref="ByteLength"/> raw digest bytes in digest order.
/// Allocation: <see cref="IsValid"/>, <see cref="TryParse"/> and a passing <see cref="TryValidate"/> allocate nothing; <see cref="Format"/>
/// allocates only the returned string.
/// </summary>
public static class FeatureConfigHash
{
    /// <summary>Bytes of the binary form (a SHA-256 digest).</summary>
    public const int ByteLength = 32;

    /// <summary>Characters in the text form.</summary>
    public const int TextLength = ByteLength * 2;

    private static readonly SearchValues<char> LowerHexDigits = SearchValues.Create("0123456789abcdef");

    /// <summary>Formats a SHA-256 digest as <see cref="TextLength"/> lowercase hex digits.</summary>
    /// <exception cref="ArgumentException">When <paramref name="sha256"/> is not <see cref="ByteLength"/> bytes.</exception>
    public static string Format(ReadOnlySpan<byte> sha256)
    {
        RequireDigest(sha256, nameof(sha256));
        return Convert.ToHexStringLower(sha256);
    }

    /// <summary>
    /// Parses the text form into the first <see cref="ByteLength"/> bytes of <paramref name="destination"/>.
    /// Only exactly <see cref="TextLength"/> lowercase hex digits are accepted, so one hash has one spelling;
    /// on false <paramref name="destination"/> is left unspecified.
    /// </summary>
    /// <exception cref="ArgumentException">When <paramref name="destination"/> is shorter than <see cref="ByteLength"/> (a caller bug, not bad input).</exception>
    public static bool TryParse(string? text, Span<byte> destination)
    {
        if (destination.Length < ByteLength)
        {
            throw new ArgumentException($"destination is {destination.Length} bytes, a SHA-256 needs {ByteLength}", nameof(destination));
        }
        if (!IsValid(text))
        {
            return false;
        }
        return Convert.FromHexString(text, destination[..ByteLength], out _, out _) == OperationStatus.Done;
    }

    /// <summary>True when <paramref name="text"/> is exactly <see cref="TextLength"/> lowercase hex digits.</summary>
    public static bool IsValid([NotNullWhen(true)] string? text) =>
        text is not null && text.Length == TextLength && !text.AsSpan().ContainsAnyExcept(LowerHexDigits);

    /// <summary>
    /// Like <see cref="IsValid"/>, but on false <paramref name="reason"/> names <paramref name="field"/> and the
    /// specific problem (missing, wrong length, or the first character that is not a lowercase hex digit), so every
    /// validator on either side of the wire reports a bad hash the same way.
    /// </summary>
    public static bool TryValidate([NotNullWhen(true)] string? text, string field, out string reason)
    {
        if (string.IsNullOrEmpty(text))
        {
            reason = $"{field} is required (the configuration's SHA-256 as {TextLength} lowercase hex digits)";
            return false;
        }
        if (text.Length != TextLength)
        {
            reason = $"{field} must be the SHA-256 as {TextLength} lowercase hex digits, got {text.Length} characters '{Check.Truncate(text)}'";
            return false;
        }
        int bad = text.AsSpan().IndexOfAnyExcept(LowerHexDigits);
        if (bad >= 0)
        {
            reason = $"{field} must be {TextLength} lowercase hex digits, got '{text[bad]}' at position {bad} of '{Check.Truncate(text)}'";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    internal static void RequireDigest(ReadOnlySpan<byte> sha256, string paramName)
    {
        if (sha256.Length != ByteLength)
        {
            throw new ArgumentException($"feature config hash must be the {ByteLength}-byte SHA-256, got {sha256.Length} bytes", paramName);
        }
    }
}

/// <summary>
/// A feature configuration hash held by value (the <see cref="FeatureConfigHash.ByteLength"/> digest
/// bytes in four 64-bit words), so a <see cref="ClipHeader"/> can carry it without a heap allocation per
/// read. <see cref="ToString"/> gives the <see cref="FeatureConfigHash"/> text form (that allocates).
/// <c>default</c> is the all-zero digest, which no real configuration produces.
/// </summary>
public readonly struct FeatureConfigDigest : IEquatable<FeatureConfigDigest>
{
    private readonly ulong _w0, _w1, _w2, _w3;

    /// <summary>Copies a SHA-256 digest.</summary>
    /// <exception cref="ArgumentException">When <paramref name="sha256"/> is not <see cref="FeatureConfigHash.ByteLength"/> bytes.</exception>
    public FeatureConfigDigest(ReadOnlySpan<byte> sha256)
    {
        FeatureConfigHash.RequireDigest(sha256, nameof(sha256));
        // Big-endian words keep CopyTo's byte order identical to the digest's.
        _w0 = BinaryPrimitives.ReadUInt64BigEndian(sha256);
        _w1 = BinaryPrimitives.ReadUInt64BigEndian(sha256[8..]);
        _w2 = BinaryPrimitives.ReadUInt64BigEndian(sha256[16..]);
        _w3 = BinaryPrimitives.ReadUInt64BigEndian(sha256[24..]);
    }

    /// <summary>Parses the <see cref="FeatureConfigHash"/> text form; allocation-free.</summary>
    public static bool TryParse(string? text, out FeatureConfigDigest digest)
    {
        Span<byte> bytes = stackalloc byte[FeatureConfigHash.ByteLength];
        if (!FeatureConfigHash.TryParse(text, bytes))
        {
            digest = default;
            return false;
        }
        digest = new FeatureConfigDigest(bytes);
        return true;
    }

    /// <summary>Writes the <see cref="FeatureConfigHash.ByteLength"/> digest bytes to the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">When <paramref name="destination"/> is too short.</exception>
    public void CopyTo(Span<byte> destination)
    {
        if (destination.Length < FeatureConfigHash.ByteLength)
        {
            throw new ArgumentException($"destination is {destination.Length} bytes, a SHA-256 needs {FeatureConfigHash.ByteLength}", nameof(destination));
        }
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _w2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _w3);
    }

    /// <summary>True when the digest equals the one spelled by <paramref name="text"/>; false for any invalid text. Allocation-free.</summary>
    public bool Matches(string? text) => TryParse(text, out FeatureConfigDigest other) && Equals(other);

    /// <inheritdoc />
    public bool Equals(FeatureConfigDigest other) =>
        _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is FeatureConfigDigest other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);

    /// <summary>The <see cref="FeatureConfigHash"/> text form: <see cref="FeatureConfigHash.TextLength"/> lowercase hex digits.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[FeatureConfigHash.ByteLength];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>Digest equality.</summary>
    public static bool operator ==(FeatureConfigDigest left, FeatureConfigDigest right) => left.Equals(right);

    /// <summary>Digest inequality.</summary>
    public static bool operator !=(FeatureConfigDigest left, FeatureConfigDigest right) => !left.Equals(right);
}

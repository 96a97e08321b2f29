namespace EdgeKws.Shared.Audio;

/// <summary>
/// What is wrong with a WAV file. Every malformed input maps to one of these (never to an
/// <see cref="IndexOutOfRangeException"/> or <see cref="EndOfStreamException"/> from inside the parser),
/// so tools can report, count or quarantine bad files by cause.
/// </summary>
public enum WavError
{
    /// <summary>The stream ended inside the RIFF header, a chunk header or the <c>fmt </c> chunk.</summary>
    TruncatedHeader,
    /// <summary>The first four bytes are not <c>RIFF</c> (RF64/RIFX/BW64 are not supported).</summary>
    NotRiff,
    /// <summary>The RIFF form type is not <c>WAVE</c>.</summary>
    NotWave,
    /// <summary>No <c>fmt </c> chunk before the end of the file or before the <c>data</c> chunk.</summary>
    MissingFmtChunk,
    /// <summary>A <c>fmt </c> chunk was found but no <c>data</c> chunk.</summary>
    MissingDataChunk,
    /// <summary>The <c>fmt </c> chunk is shorter than its format requires.</summary>
    FmtChunkTooSmall,
    /// <summary>A header chunk (<c>fmt </c>) claims a size no real file uses; reading it would mean trusting a lie.</summary>
    OversizedChunk,
    /// <summary>A chunk before <c>data</c> claims more bytes than the file holds.</summary>
    ChunkExtendsPastEndOfFile,
    /// <summary>The format tag (or extensible sub-format) is neither PCM nor IEEE float.</summary>
    UnsupportedEncoding,
    /// <summary>The bit depth is not one this reader decodes (PCM 8/16/24/32, float 32/64).</summary>
    UnsupportedBitDepth,
    /// <summary>Zero channels, or more than <see cref="WavFormat.MaxChannels"/>.</summary>
    InvalidChannelCount,
    /// <summary>Zero sample rate, or more than <see cref="WavFormat.MaxSampleRateHz"/>.</summary>
    InvalidSampleRate,
    /// <summary><c>nBlockAlign</c> differs from channels * bits / 8.</summary>
    InconsistentBlockAlign,
    /// <summary>The <c>data</c> chunk declares more bytes than the file holds (a lying or cut header).</summary>
    DataChunkLargerThanFile,
    /// <summary>A non-seekable stream ended before the bytes the <c>data</c> chunk declared.</summary>
    DataChunkTruncated,
    /// <summary>The data would exceed the 4 GiB limit of a RIFF size field (writer side).</summary>
    Oversized,
}

/// <summary>A WAV file is malformed or unsupported. <see cref="Error"/> says which way; the message names the offending value and byte offset.</summary>
public sealed class WavFormatException : Exception
{
    /// <summary>Creates the exception for a specific cause.</summary>
    public WavFormatException(WavError error, string message) : base(message) => Error = error;

    /// <summary>The specific problem, for callers that branch or count by cause.</summary>
    public WavError Error { get; }
}

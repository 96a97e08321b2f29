namespace EdgeKws.Shared.Audio;

/// <summary>How samples are stored in the data chunk.</summary>
public enum WavEncoding
{
    /// <summary>Integer PCM: 8-bit unsigned, 16/24/32-bit signed little-endian.</summary>
    Pcm,
    /// <summary>IEEE 754 little-endian float, 32 or 64 bit.</summary>
    IeeeFloat,
}

/// <summary>Where <see cref="WavFormat.FrameCount"/> came from.</summary>
public enum WavDataSize
{
    /// <summary>The <c>data</c> chunk size in the header, which the file holds in full.</summary>
    Declared,
    /// <summary>The header held a known "not finalised" placeholder (a streaming writer that never patched it); the data runs to the end of the stream.</summary>
    UnfinalizedToEndOfStream,
    /// <summary>The header declared more than the file holds and <see cref="WavReaderOptions.AllowTruncatedData"/> was set: the data was cut to what is there.</summary>
    TruncatedToEndOfStream,
}

/// <summary>The format of a WAV file as parsed from its header.</summary>
public sealed record WavFormat
{
    /// <summary>Largest channel count accepted; beyond it a header is treated as corrupt.</summary>
    public const int MaxChannels = 64;

    /// <summary>Largest sample rate accepted; beyond it a header is treated as corrupt.</summary>
    public const int MaxSampleRateHz = 768_000;

    /// <summary>Frames per second.</summary>
    public required int SampleRateHz { get; init; }

    /// <summary>Interleaved channels per frame.</summary>
    public required int Channels { get; init; }

    /// <summary>Container bits per sample (8, 16, 24, 32 or 64).</summary>
    public required int BitsPerSample { get; init; }

    /// <summary>Integer PCM or IEEE float.</summary>
    public required WavEncoding Encoding { get; init; }

    /// <summary>True when the header used WAVE_FORMAT_EXTENSIBLE.</summary>
    public bool IsExtensible { get; init; }

    /// <summary>Bytes per frame (all channels).</summary>
    public int BlockAlignBytes => Channels * (BitsPerSample / 8);

    /// <summary>
    /// Frames in the data chunk. Only meaningful when <see cref="IsFrameCountKnown"/>; it is 0 for an
    /// unfinalised header on a non-seekable stream, whose length nobody can know before the end.
    /// A trailing partial frame (data size not a multiple of the block align) is not counted.
    /// </summary>
    public required long FrameCount { get; init; }

    /// <summary>False only for an unfinalised header read from a non-seekable stream.</summary>
    public bool IsFrameCountKnown { get; init; } = true;

    /// <summary>Where <see cref="FrameCount"/> came from (declared, unfinalised placeholder, or truncated file).</summary>
    public WavDataSize DataSize { get; init; } = WavDataSize.Declared;

    /// <summary>Byte offset of the first sample in the file.</summary>
    public long DataOffsetBytes { get; init; }

    /// <summary>Length of the audio (<see cref="FrameCount"/> / <see cref="SampleRateHz"/>).</summary>
    public TimeSpan Duration => TimeSpan.FromTicks((long)((decimal)FrameCount * TimeSpan.TicksPerSecond / SampleRateHz));
}

/// <summary>How forgiving <see cref="WavReader"/> is about data sizes that do not match the file.</summary>
public sealed record WavReaderOptions
{
    /// <summary>The defaults: accept unfinalised placeholders, reject lying sizes.</summary>
    public static WavReaderOptions Default { get; } = new();

    /// <summary>
    /// Accept a data size that is a known streaming-writer placeholder (0xFFFFFFFF, 0x7FFFFFFF,
    /// 0x7FFFF000 as sox writes to a pipe, or 0 when the RIFF size is also 0) and read to the end of
    /// the stream. Default true: such files are common and the value is recognisably not a length.
    /// </summary>
    public bool AcceptUnfinalizedDataSize { get; init; } = true;

    /// <summary>
    /// Read a file whose data size is larger than the file (cut download, crashed recorder) up to
    /// where it ends, and report it through <see cref="WavFormat.DataSize"/> /
    /// <see cref="WavReader.WasTruncated"/>. Default false: a lying header is an error.
    /// </summary>
    public bool AllowTruncatedData { get; init; }
}

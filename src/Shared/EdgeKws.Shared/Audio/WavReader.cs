using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace EdgeKws.Shared.Audio;

/// <summary>
/// Streaming WAV reader: parses RIFF/WAVE (PCM 8/16/24/32-bit, IEEE float 32/64, plain or
/// WAVE_FORMAT_EXTENSIBLE), skips chunks it does not need (LIST, fact, cue, ...) including their
/// odd-size pad byte, then decodes the <c>data</c> chunk block by block.
/// </summary>
/// <remarks>
/// <para><b>Memory.</b> The reader owns one fixed <see cref="BufferSizeBytes"/> buffer, allocated in the
/// constructor; its size does not depend on the file, so an hour-long file streams in constant memory.
/// <see cref="ReadMono"/> and <see cref="Read"/> allocate nothing.</para>
/// <para><b>Data chunk sizes that disagree with the file</b> (decision):</para>
/// <list type="bullet">
/// <item>Declared size fits in the file: read exactly that many bytes; chunks after <c>data</c> are ignored.</item>
/// <item>Declared size is a known placeholder of a streaming writer that never patched its header
/// (0xFFFFFFFF as ffmpeg writes, 0x7FFFFFFF as arecord writes, 0x7FFFF000 as sox writes to a pipe, or 0 when the
/// RIFF size is 0 too): with <see cref="WavReaderOptions.AcceptUnfinalizedDataSize"/> (the default) the data
/// runs to the end of the stream and <see cref="WavFormat.DataSize"/> says
/// <see cref="WavDataSize.UnfinalizedToEndOfStream"/>. These values are recognisably "unknown", not lies.</item>
/// <item>Any other size larger than the file is a lying or cut header: <see cref="WavError.DataChunkLargerThanFile"/>
/// is thrown by the constructor (seekable streams) or <see cref="WavError.DataChunkTruncated"/> by the read that
/// hits the early end (non-seekable streams). With <see cref="WavReaderOptions.AllowTruncatedData"/> the reader
/// stops where the file stops instead and reports it via <see cref="WasTruncated"/> and
/// <see cref="WavFormat.DataSize"/>; it never silently reads past the file or invents samples.</item>
/// <item>A trailing partial frame is dropped; the byte-rate field is ignored (it is redundant and often wrong).</item>
/// </list>
/// </remarks>
public sealed class WavReader : IDisposable
{
    /// <summary>Size of the one internal byte buffer; fixed, whatever the file length.</summary>
    internal const int BufferSizeBytesConst = 16 * 1024;

    /// <summary>A fmt chunk is 16, 18 or 40 bytes in practice; anything above this is a corrupt or hostile header.</summary>
    internal const int MaxFmtChunkBytes = 1024;

    private static ReadOnlySpan<byte> KsDataFormatGuidTail => [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly WavReaderOptions _options;
    private readonly byte[] _buffer;
    private readonly SampleKind _kind;
    private readonly int _blockAlign;
    private readonly int _framesPerBlock;
    private long _position;
    private long _bytesRemaining;
    private bool _disposed;

    /// <summary>Opens a WAV file by path; the reader owns and disposes the file stream.</summary>
    public WavReader(string path, WavReaderOptions? options = null)
        : this(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan), leaveOpen: false, options)
    {
    }

    /// <summary>
    /// Parses the header from the stream's current position. A seekable stream lets the reader check the
    /// declared data size against the file; a non-seekable one (pipe, socket) is checked while reading.
    /// </summary>
    /// <exception cref="WavFormatException">The header is malformed or unsupported; see <see cref="WavFormatException.Error"/>.</exception>
    public WavReader(Stream stream, bool leaveOpen = false, WavReaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? WavReaderOptions.Default;
        _buffer = new byte[BufferSizeBytesConst];
        try
        {
            Format = ParseHeader();
        }
        catch
        {
            if (!leaveOpen)
            {
                stream.Dispose();
            }

            throw;
        }

        _kind = KindOf(Format.Encoding, Format.BitsPerSample);
        _blockAlign = Format.BlockAlignBytes;
        _framesPerBlock = _buffer.Length / _blockAlign;
        _bytesRemaining = Format.IsFrameCountKnown ? Format.FrameCount * _blockAlign : long.MaxValue;
        WasTruncated = Format.DataSize == WavDataSize.TruncatedToEndOfStream;
    }

    /// <summary>The parsed format, including the frame count.</summary>
    public WavFormat Format { get; }

    /// <summary>Frames returned so far.</summary>
    public long FramesRead { get; private set; }

    /// <summary>True when the data ended before its declared size and <see cref="WavReaderOptions.AllowTruncatedData"/> let the reader stop there.</summary>
    public bool WasTruncated { get; private set; }

    /// <summary>Bytes held by the internal buffer: constant, independent of file length.</summary>
    internal int BufferSizeBytes => _buffer.Length;

    /// <summary>
    /// Reads up to <c>destination.Length</c> frames, each downmixed to mono as the average of its channels.
    /// Returns the number of frames written; 0 only at the end of the data. Allocates nothing.
    /// </summary>
    public int ReadMono(Span<float> destination) => ReadCore(destination, mono: true);

    /// <summary>
    /// Reads up to <c>destination.Length / Channels</c> whole frames as interleaved float samples.
    /// Returns the number of frames (not samples) written; 0 only at the end of the data.
    /// </summary>
    public int Read(Span<float> destination) => ReadCore(destination, mono: false);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private int ReadCore(Span<float> destination, bool mono)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int channels = Format.Channels;
        int outPerFrame = mono ? 1 : channels;
        int maxFrames = destination.Length / outPerFrame;
        int total = 0;
        while (total < maxFrames)
        {
            int frames = FillBlock(Math.Min(maxFrames - total, _framesPerBlock));
            if (frames == 0)
            {
                break;
            }

            Decode(_buffer.AsSpan(0, frames * _blockAlign), destination.Slice(total * outPerFrame, frames * outPerFrame), channels, mono);
            total += frames;
        }

        return total;
    }

    private int FillBlock(int maxFrames)
    {
        int frames = (int)Math.Min(maxFrames, _bytesRemaining / _blockAlign);
        if (frames == 0)
        {
            return 0;
        }

        int bytes = frames * _blockAlign;
        int got = ReadFully(_buffer.AsSpan(0, bytes));
        if (got < bytes)
        {
            if (Format.IsFrameCountKnown && !_options.AllowTruncatedData)
            {
                long have = FramesRead + got / _blockAlign;
                throw new WavFormatException(WavError.DataChunkTruncated,
                    $"The stream ended at byte offset {_position} inside the 'data' chunk: {have} of the {Format.FrameCount} declared frames are there.");
            }

            WasTruncated |= Format.IsFrameCountKnown;
            _bytesRemaining = 0;
            frames = got / _blockAlign;
        }
        else
        {
            _bytesRemaining -= bytes;
        }

        FramesRead += frames;
        return frames;
    }

    private int ReadFully(Span<byte> destination)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int n = _stream.Read(destination[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        _position += total;
        return total;
    }

    private WavFormat ParseHeader()
    {
        long streamEnd = -1;
        if (_stream.CanSeek)
        {
            streamEnd = _stream.Length - _stream.Position;
        }

        Span<byte> riff = stackalloc byte[12];
        int n = ReadFully(riff);
        if (n < 12)
        {
            throw new WavFormatException(WavError.TruncatedHeader, $"The file ends after {n} bytes; a WAV header needs at least 12 (\"RIFF\", size, \"WAVE\").");
        }

        if (!riff[..4].SequenceEqual("RIFF"u8))
        {
            throw new WavFormatException(WavError.NotRiff, $"Expected \"RIFF\" at byte offset 0 but found {Describe(riff[..4])}; this is not a RIFF WAV file (RF64/RIFX are not supported).");
        }

        uint riffSize = BinaryPrimitives.ReadUInt32LittleEndian(riff[4..]);
        if (!riff[8..12].SequenceEqual("WAVE"u8))
        {
            throw new WavFormatException(WavError.NotWave, $"Expected form type \"WAVE\" at byte offset 8 but found {Describe(riff[8..12])}.");
        }

        Span<byte> header = stackalloc byte[8];
        Span<byte> fmt = stackalloc byte[40];
        bool haveFmt = false;
        int channels = 0, sampleRate = 0, bits = 0;
        bool extensible = false;
        WavEncoding encoding = WavEncoding.Pcm;
        while (true)
        {
            long chunkOffset = _position;
            n = ReadFully(header);
            if (n == 0)
            {
                throw haveFmt
                    ? new WavFormatException(WavError.MissingDataChunk, $"The file ends at byte offset {chunkOffset} without a 'data' chunk.")
                    : new WavFormatException(WavError.MissingFmtChunk, $"The file ends at byte offset {chunkOffset} without a 'fmt ' chunk.");
            }

            if (n < 8)
            {
                throw new WavFormatException(WavError.TruncatedHeader, $"The file ends inside a chunk header at byte offset {chunkOffset} ({n} of 8 bytes).");
            }

            ReadOnlySpan<byte> id = header[..4];
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (id.SequenceEqual("fmt "u8) && !haveFmt)
            {
                if (size > MaxFmtChunkBytes)
                {
                    throw new WavFormatException(WavError.OversizedChunk, $"The 'fmt ' chunk at byte offset {chunkOffset} claims {size} bytes; no valid fmt chunk exceeds {MaxFmtChunkBytes}.");
                }

                if (size < 16)
                {
                    throw new WavFormatException(WavError.FmtChunkTooSmall, $"The 'fmt ' chunk at byte offset {chunkOffset} is {size} bytes; at least 16 are required.");
                }

                int take = (int)Math.Min(size, 40u);
                if (ReadFully(fmt[..take]) < take)
                {
                    throw new WavFormatException(WavError.TruncatedHeader, $"The file ends inside the 'fmt ' chunk that starts at byte offset {chunkOffset}.");
                }

                SkipChunkBody(size - (uint)take, (size & 1) != 0, "fmt ", chunkOffset, streamEnd);
                (encoding, extensible) = ParseEncoding(fmt, size, chunkOffset);
                channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
                uint rate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
                int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
                bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);
                if (channels is 0 or > WavFormat.MaxChannels)
                {
                    throw new WavFormatException(WavError.InvalidChannelCount, $"The 'fmt ' chunk at byte offset {chunkOffset} declares {channels} channels; 1 to {WavFormat.MaxChannels} are accepted.");
                }

                if (rate is 0 or > WavFormat.MaxSampleRateHz)
                {
                    throw new WavFormatException(WavError.InvalidSampleRate, $"The 'fmt ' chunk at byte offset {chunkOffset} declares a sample rate of {rate} Hz; 1 to {WavFormat.MaxSampleRateHz} Hz are accepted.");
                }

                sampleRate = (int)rate;
                bool bitsOk = encoding == WavEncoding.Pcm ? bits is 8 or 16 or 24 or 32 : bits is 32 or 64;
                if (!bitsOk)
                {
                    throw new WavFormatException(WavError.UnsupportedBitDepth,
                        $"{bits}-bit {encoding} is not supported (PCM: 8, 16, 24, 32; float: 32, 64); 'fmt ' chunk at byte offset {chunkOffset}.");
                }

                if (blockAlign != channels * (bits / 8))
                {
                    throw new WavFormatException(WavError.InconsistentBlockAlign,
                        $"The 'fmt ' chunk at byte offset {chunkOffset} declares a block align of {blockAlign} bytes but {channels} channels x {bits} bits need {channels * (bits / 8)}.");
                }

                haveFmt = true;
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (!haveFmt)
                {
                    throw new WavFormatException(WavError.MissingFmtChunk, $"The 'data' chunk at byte offset {chunkOffset} comes before any 'fmt ' chunk.");
                }

                return DataFormat(size, riffSize, chunkOffset, streamEnd, sampleRate, channels, bits, encoding, extensible);
            }
            else
            {
                SkipChunkBody(size, (size & 1) != 0, Encoding.ASCII.GetString(id), chunkOffset, streamEnd);
            }
        }
    }

    private WavFormat DataFormat(uint declared, uint riffSize, long chunkOffset, long streamEnd, int sampleRate, int channels, int bits, WavEncoding encoding, bool extensible)
    {
        int blockAlign = channels * (bits / 8);
        long dataStart = _position;
        long available = streamEnd >= 0 ? streamEnd - dataStart : -1;
        bool placeholder = _options.AcceptUnfinalizedDataSize
            && (declared is 0xFFFFFFFF or 0x7FFFFFFF or 0x7FFFF000 || (declared == 0 && riffSize == 0));
        long dataBytes = declared;
        var kind = WavDataSize.Declared;
        bool known = true;
        if (placeholder)
        {
            kind = WavDataSize.UnfinalizedToEndOfStream;
            known = available >= 0;
            dataBytes = known ? available : 0;
        }
        else if (available >= 0 && declared > available)
        {
            if (!_options.AllowTruncatedData)
            {
                throw new WavFormatException(WavError.DataChunkLargerThanFile,
                    $"The 'data' chunk at byte offset {chunkOffset} declares {declared} bytes but only {available} follow its header (file ends at byte offset {streamEnd}). The header is lying or the file was cut; set AllowTruncatedData to read what is there.");
            }

            kind = WavDataSize.TruncatedToEndOfStream;
            dataBytes = available;
        }

        return new WavFormat
        {
            SampleRateHz = sampleRate,
            Channels = channels,
            BitsPerSample = bits,
            Encoding = encoding,
            IsExtensible = extensible,
            FrameCount = dataBytes / blockAlign,
            IsFrameCountKnown = known,
            DataSize = kind,
            DataOffsetBytes = dataStart,
        };
    }

    private static (WavEncoding Encoding, bool Extensible) ParseEncoding(ReadOnlySpan<byte> fmt, uint size, long chunkOffset)
    {
        int tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        bool extensible = tag == 0xFFFE;
        if (extensible)
        {
            int cbSize = size >= 18 ? BinaryPrimitives.ReadUInt16LittleEndian(fmt[16..]) : 0;
            if (size < 40 || cbSize < 22)
            {
                throw new WavFormatException(WavError.FmtChunkTooSmall,
                    $"WAVE_FORMAT_EXTENSIBLE needs a 40-byte 'fmt ' chunk with cbSize 22; the one at byte offset {chunkOffset} has {size} bytes and cbSize {cbSize}.");
            }

            tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt[24..]);
            if (!fmt[28..40].SequenceEqual(KsDataFormatGuidTail) || fmt[26] != 0 || fmt[27] != 0)
            {
                throw new WavFormatException(WavError.UnsupportedEncoding,
                    $"The WAVE_FORMAT_EXTENSIBLE sub-format GUID at byte offset {chunkOffset + 8 + 24} is not a KSDATAFORMAT_SUBTYPE (PCM or IEEE float).");
            }
        }

        return tag switch
        {
            1 => (WavEncoding.Pcm, extensible),
            3 => (WavEncoding.IeeeFloat, extensible),
            _ => throw new WavFormatException(WavError.UnsupportedEncoding,
                $"Format tag 0x{tag:X4} ({TagName(tag)}) in the 'fmt ' chunk at byte offset {chunkOffset} is not supported; only PCM (1) and IEEE float (3) are."),
        };
    }

    private void SkipChunkBody(uint size, bool padded, string id, long chunkOffset, long streamEnd)
    {
        if (streamEnd >= 0)
        {
            long remaining = streamEnd - _position;
            if (size > remaining)
            {
                throw new WavFormatException(WavError.ChunkExtendsPastEndOfFile,
                    $"The '{id}' chunk at byte offset {chunkOffset} claims {size} more bytes but only {remaining} remain in the file.");
            }

            // The pad byte of an odd-sized last chunk is often missing: do not require it.
            long skip = Math.Min(size + (padded ? 1L : 0L), remaining);
            _stream.Seek(skip, SeekOrigin.Current);
            _position += skip;
            return;
        }

        long left = size;
        while (left > 0)
        {
            int n = ReadFully(_buffer.AsSpan(0, (int)Math.Min(left, _buffer.Length)));
            if (n == 0)
            {
                throw new WavFormatException(WavError.ChunkExtendsPastEndOfFile,
                    $"The '{id}' chunk at byte offset {chunkOffset} claims {size} bytes but the stream ends at byte offset {_position}.");
            }

            left -= n;
        }

        if (padded)
        {
            ReadFully(_buffer.AsSpan(0, 1));
        }
    }

    private static string Describe(ReadOnlySpan<byte> fourCc)
    {
        foreach (byte b in fourCc)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return "bytes " + Convert.ToHexString(fourCc);
            }
        }

        return "\"" + Encoding.ASCII.GetString(fourCc) + "\"";
    }

    private static string TagName(int tag) => tag switch
    {
        2 => "Microsoft ADPCM",
        6 => "A-law",
        7 => "mu-law",
        0x11 => "IMA ADPCM",
        0x31 => "GSM 6.10",
        0x55 => "MPEG Layer 3",
        _ => "unknown",
    };

    private enum SampleKind { Pcm8, Pcm16, Pcm24, Pcm32, Float32, Float64 }

    private static SampleKind KindOf(WavEncoding encoding, int bits) => (encoding, bits) switch
    {
        (WavEncoding.Pcm, 8) => SampleKind.Pcm8,
        (WavEncoding.Pcm, 16) => SampleKind.Pcm16,
        (WavEncoding.Pcm, 24) => SampleKind.Pcm24,
        (WavEncoding.Pcm, 32) => SampleKind.Pcm32,
        (WavEncoding.IeeeFloat, 32) => SampleKind.Float32,
        _ => SampleKind.Float64,
    };

    private void Decode(ReadOnlySpan<byte> src, Span<float> dst, int channels, bool mono)
    {
        switch (_kind)
        {
            case SampleKind.Pcm8: Decode<Pcm8>(src, dst, channels, mono); break;
            case SampleKind.Pcm16: Decode<Pcm16Le>(src, dst, channels, mono); break;
            case SampleKind.Pcm24: Decode<Pcm24Le>(src, dst, channels, mono); break;
            case SampleKind.Pcm32: Decode<Pcm32Le>(src, dst, channels, mono); break;
            case SampleKind.Float32: Decode<Float32Le>(src, dst, channels, mono); break;
            default: Decode<Float64Le>(src, dst, channels, mono); break;
        }
    }

    // Generic over a struct decoder so each format gets its own specialised loop without writing the loop six times.
    private static void Decode<T>(ReadOnlySpan<byte> src, Span<float> dst, int channels, bool mono)
        where T : struct, ISampleDecoder
    {
        int bytes = T.Bytes;
        if (!mono || channels == 1)
        {
            for (int i = 0, o = 0; o < dst.Length; i += bytes, o++)
            {
                dst[o] = T.Decode(src.Slice(i, bytes));
            }

            return;
        }

        float inv = 1f / channels;
        for (int f = 0, i = 0; f < dst.Length; f++)
        {
            float sum = 0f;
            for (int c = 0; c < channels; c++, i += bytes)
            {
                sum += T.Decode(src.Slice(i, bytes));
            }

            dst[f] = sum * inv;
        }
    }

    private interface ISampleDecoder
    {
        static abstract int Bytes { get; }

        static abstract float Decode(ReadOnlySpan<byte> b);
    }

    private readonly struct Pcm8 : ISampleDecoder
    {
        public static int Bytes => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Decode(ReadOnlySpan<byte> b) => (b[0] - 128) * (1f / 128f);
    }

    private readonly struct Pcm16Le : ISampleDecoder
    {
        public static int Bytes => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Decode(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadInt16LittleEndian(b) * (1f / 32768f);
    }

    private readonly struct Pcm24Le : ISampleDecoder
    {
        public static int Bytes => 3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Decode(ReadOnlySpan<byte> b) => (b[0] | (b[1] << 8) | ((sbyte)b[2] << 16)) * (1f / 8388608f);
    }

    private readonly struct Pcm32Le : ISampleDecoder
    {
        public static int Bytes => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Decode(ReadOnlySpan<byte> b) => (float)(BinaryPrimitives.ReadInt32LittleEndian(b) * (1.0 / 2147483648.0));
    }

    private readonly struct Float32Le : ISampleDecoder
    {
        public static int Bytes => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Decode(ReadOnlySpan<byte> b) => BinaryPrimitives.ReadSingleLittleEndian(b);
    }

    private readonly struct Float64Le : ISampleDecoder
    {
        public static int Bytes => 8;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Decode(ReadOnlySpan<byte> b) => (float)BinaryPrimitives.ReadDoubleLittleEndian(b);
    }
}

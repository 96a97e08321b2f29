using System.Buffers.Binary;

namespace EdgeKws.Shared.Audio;

/// <summary>Sample storage a <see cref="WavWriter"/> produces.</summary>
public enum WavSampleFormat
{
    /// <summary>16-bit signed PCM (the device's native format); floats are rounded and saturated by <see cref="Pcm16.ToInt16(float)"/>.</summary>
    Pcm16,
    /// <summary>32-bit IEEE float (WAVE_FORMAT_IEEE_FLOAT with a fact chunk); lossless for the project's float samples.</summary>
    Float32,
}

/// <summary>
/// Streaming WAV writer. The header is written first with the 0xFFFFFFFF "unfinalised" size
/// placeholders (which <see cref="WavReader"/> accepts), so a recording cut by a crash or power loss is
/// still readable; <see cref="Dispose"/> patches the real sizes when the stream can seek.
/// </summary>
/// <remarks>Owns one fixed 16 KB conversion buffer; <see cref="Write(ReadOnlySpan{float})"/> allocates nothing.</remarks>
public sealed class WavWriter : IDisposable
{
    private const uint Unfinalized = 0xFFFFFFFF;
    private const int BufferBytes = 16 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[BufferBytes];
    private readonly int _bytesPerSample;
    private readonly int _headerBytes;
    private readonly long _startPosition;
    private long _dataBytes;
    private bool _disposed;

    /// <summary>Creates (or overwrites) a WAV file at <paramref name="path"/>; the writer owns the file.</summary>
    public WavWriter(string path, int sampleRateHz, int channels, WavSampleFormat format)
        : this(new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read), sampleRateHz, channels, format, leaveOpen: false)
    {
    }

    /// <summary>Writes a WAV stream at the stream's current position.</summary>
    public WavWriter(Stream stream, int sampleRateHz, int channels, WavSampleFormat format, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (sampleRateHz is <= 0 or > WavFormat.MaxSampleRateHz)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRateHz), sampleRateHz, $"Sample rate must be 1 to {WavFormat.MaxSampleRateHz} Hz.");
        }

        if (channels is <= 0 or > WavFormat.MaxChannels)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"Channel count must be 1 to {WavFormat.MaxChannels}.");
        }

        if (format is not (WavSampleFormat.Pcm16 or WavSampleFormat.Float32))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown sample format.");
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        SampleRateHz = sampleRateHz;
        Channels = channels;
        SampleFormat = format;
        _bytesPerSample = format == WavSampleFormat.Pcm16 ? 2 : 4;
        _startPosition = stream.CanSeek ? stream.Position : 0;
        _headerBytes = WriteHeader(Unfinalized, Unfinalized, Unfinalized);
    }

    /// <summary>Frames per second written into the header.</summary>
    public int SampleRateHz { get; }

    /// <summary>Interleaved channels per frame.</summary>
    public int Channels { get; }

    /// <summary>Storage format of the samples.</summary>
    public WavSampleFormat SampleFormat { get; }

    /// <summary>Whole frames written so far.</summary>
    public long FramesWritten => _dataBytes / (_bytesPerSample * Channels);

    /// <summary>Appends interleaved float samples ([-1, 1) scale); the length must be a whole number of frames.</summary>
    public void Write(ReadOnlySpan<float> interleaved)
    {
        CheckWrite(interleaved.Length);
        int perBlock = _buffer.Length / _bytesPerSample;
        while (!interleaved.IsEmpty)
        {
            int n = Math.Min(perBlock, interleaved.Length);
            Span<byte> dst = _buffer.AsSpan(0, n * _bytesPerSample);
            if (SampleFormat == WavSampleFormat.Pcm16)
            {
                for (int i = 0; i < n; i++)
                {
                    BinaryPrimitives.WriteInt16LittleEndian(dst[(i * 2)..], Pcm16.ToInt16(interleaved[i]));
                }
            }
            else
            {
                for (int i = 0; i < n; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(dst[(i * 4)..], interleaved[i]);
                }
            }

            _stream.Write(dst);
            _dataBytes += dst.Length;
            interleaved = interleaved[n..];
        }
    }

    /// <summary>Appends interleaved native S16 samples; the length must be a whole number of frames.</summary>
    public void Write(ReadOnlySpan<short> interleaved)
    {
        CheckWrite(interleaved.Length);
        int perBlock = _buffer.Length / _bytesPerSample;
        while (!interleaved.IsEmpty)
        {
            int n = Math.Min(perBlock, interleaved.Length);
            Span<byte> dst = _buffer.AsSpan(0, n * _bytesPerSample);
            for (int i = 0; i < n; i++)
            {
                if (SampleFormat == WavSampleFormat.Pcm16)
                {
                    BinaryPrimitives.WriteInt16LittleEndian(dst[(i * 2)..], interleaved[i]);
                }
                else
                {
                    BinaryPrimitives.WriteSingleLittleEndian(dst[(i * 4)..], interleaved[i] / Pcm16.Scale);
                }
            }

            _stream.Write(dst);
            _dataBytes += dst.Length;
            interleaved = interleaved[n..];
        }
    }

    /// <summary>Patches the RIFF, fact and data sizes (seekable streams), flushes, and closes the stream unless asked to leave it open.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (_stream.CanSeek)
            {
                long end = _stream.Position;
                _stream.Position = _startPosition;
                WriteHeader((uint)(_headerBytes - 8 + _dataBytes), (uint)FramesWritten, (uint)_dataBytes);
                _stream.Position = end;
            }

            _stream.Flush();
        }
        finally
        {
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    private void CheckWrite(int samples)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (samples % Channels != 0)
        {
            throw new ArgumentException($"{samples} samples is not a whole number of {Channels}-channel frames.", nameof(samples));
        }

        if (_headerBytes + _dataBytes + ((long)samples * _bytesPerSample) > uint.MaxValue - 1)
        {
            throw new WavFormatException(WavError.Oversized,
                $"Writing {samples} more samples would take the data chunk past the 4 GiB RIFF limit ({_dataBytes} bytes written so far).");
        }
    }

    private int WriteHeader(uint riffSize, uint factFrames, uint dataSize)
    {
        bool isFloat = SampleFormat == WavSampleFormat.Float32;
        Span<byte> h = stackalloc byte[58];
        int blockAlign = Channels * _bytesPerSample;
        "RIFF"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], riffSize);
        "WAVE"u8.CopyTo(h[8..]);
        "fmt "u8.CopyTo(h[12..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], isFloat ? 18u : 16u);
        BinaryPrimitives.WriteUInt16LittleEndian(h[20..], (ushort)(isFloat ? 3 : 1));
        BinaryPrimitives.WriteUInt16LittleEndian(h[22..], (ushort)Channels);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)SampleRateHz);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], (uint)(SampleRateHz * blockAlign));
        BinaryPrimitives.WriteUInt16LittleEndian(h[32..], (ushort)blockAlign);
        BinaryPrimitives.WriteUInt16LittleEndian(h[34..], (ushort)(_bytesPerSample * 8));
        int p = 36;
        if (isFloat)
        {
            // Non-PCM formats carry cbSize and a fact chunk (frame count) per the RIFF spec.
            BinaryPrimitives.WriteUInt16LittleEndian(h[36..], 0);
            "fact"u8.CopyTo(h[38..]);
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], 4);
            BinaryPrimitives.WriteUInt32LittleEndian(h[46..], factFrames);
            p = 50;
        }

        "data"u8.CopyTo(h[p..]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[(p + 4)..], dataSize);
        p += 8;
        _stream.Write(h[..p]);
        return p;
    }
}

/// <summary>Whole-file conveniences for tools and tests; the streaming types remain the path for long audio.</summary>
public static class WavFile
{
    /// <summary>Writes mono float samples to a WAV file.</summary>
    public static void Write(string path, ReadOnlySpan<float> mono, int sampleRateHz, WavSampleFormat format)
    {
        using var writer = new WavWriter(path, sampleRateHz, 1, format);
        writer.Write(mono);
    }

    /// <summary>
    /// Reads a whole file downmixed to mono at its own rate. Refuses files longer than
    /// <paramref name="maxFrames"/> (default 10 minutes at 48 kHz) rather than allocating without bound.
    /// </summary>
    public static float[] ReadAllMono(string path, out WavFormat format, long maxFrames = 48_000L * 600, WavReaderOptions? options = null)
    {
        using var reader = new WavReader(path, options);
        format = reader.Format;
        if (!format.IsFrameCountKnown || format.FrameCount > maxFrames)
        {
            throw new WavFormatException(WavError.Oversized,
                $"'{path}' holds {format.FrameCount} frames, more than the {maxFrames} ReadAllMono accepts; stream it with WavReader or AudioFileSource.");
        }

        var samples = new float[format.FrameCount];
        int n = reader.ReadMono(samples);
        return n == samples.Length ? samples : samples[..n];
    }
}

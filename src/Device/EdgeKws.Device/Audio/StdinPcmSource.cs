using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EdgeKws.Device.Audio;

/// <summary>
/// Reads raw S16LE mono 16 kHz PCM (no header) from any stream: standard input
/// (<c>arecord -f S16_LE -r 16000 -c 1 -t raw | edgekws-agent --source stdin</c>), a pipe or a file.
/// </summary>
/// <remarks>
/// <para>Streams return whatever bytes are ready, so a read may end in the middle of a sample;
/// that odd byte is kept and joined with the next read. An odd byte left at end of stream is
/// half a sample: it is dropped and <see cref="TrailingByteDropped"/> says so.</para>
/// <para>Cancellation is checked before every underlying read. A read already blocked inside the
/// stream (stdin with no writer activity) returns only when data arrives or the writer closes;
/// .NET's console stream cannot be interrupted, so the agent closes stdin's writer to stop.</para>
/// <para>Allocation: one byte buffer of <c>bufferBytes</c> at construction; <see cref="Read"/>
/// allocates nothing as long as the stream's synchronous span read does not (true for pipes,
/// files, console and memory streams).</para>
/// </remarks>
public sealed class StdinPcmSource : IAudioSource
{
    /// <summary>Default byte buffer: 2048 bytes = 1024 samples = 64 ms at 16 kHz.</summary>
    public const int DefaultBufferBytes = 2048;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _bytes;
    private long _samplesRead;
    private bool _hasCarry;
    private byte _carry;
    private bool _ended;
    private bool _disposed;

    /// <param name="stream">Readable stream of raw S16LE mono samples at 16 kHz.</param>
    /// <param name="name">What <see cref="Name"/> reports, e.g. <c>stdin</c> or a file path.</param>
    /// <param name="leaveOpen">If false (default), <see cref="Dispose"/> disposes the stream.</param>
    /// <param name="bufferBytes">Largest underlying read, in bytes (at least 2).</param>
    public StdinPcmSource(Stream stream, string name = "stdin", bool leaveOpen = false, int bufferBytes = DefaultBufferBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        if (!stream.CanRead)
        {
            throw new ArgumentException($"PCM source '{name}': the stream is not readable.", nameof(stream));
        }

        if (bufferBytes < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(bufferBytes), bufferBytes,
                "The read buffer must hold at least one 16-bit sample (2 bytes).");
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        _bytes = new byte[bufferBytes];
        Name = name;
    }

    /// <summary>Raw PCM from the process's standard input.</summary>
    public static StdinPcmSource OpenStandardInput() => new(Console.OpenStandardInput(), "stdin");

    public int SampleRateHz => AlsaCaptureSource.NativeSampleRateHz;

    public string Name { get; }

    public long SamplesRead => _samplesRead;

    /// <summary>Always 0: a stream only blocks its writer, it never loses samples.</summary>
    public long OverrunCount => 0;

    /// <summary>True once end of stream was reached with an odd byte (half a sample) left over.</summary>
    public bool TrailingByteDropped { get; private set; }

    public int Read(Span<short> destination, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.IsEmpty)
        {
            throw new ArgumentException("Destination must hold at least one sample.", nameof(destination));
        }

        if (_ended)
        {
            return 0;
        }

        var maxBytes = (int)Math.Min(_bytes.Length & ~1, 2L * destination.Length);
        var have = 0;
        if (_hasCarry)
        {
            _bytes[0] = _carry;
            _hasCarry = false;
            have = 1;
        }

        // At least one whole sample, then return what is there: callers want low latency more
        // than full buffers.
        while (have < 2)
        {
            ct.ThrowIfCancellationRequested();
            var n = _stream.Read(_bytes.AsSpan(have, maxBytes - have));
            if (n == 0)
            {
                _ended = true;
                TrailingByteDropped = have == 1;
                return 0;
            }

            have += n;
        }

        var samples = have / 2;
        var source = MemoryMarshal.Cast<byte, short>(_bytes.AsSpan(0, samples * 2));
        var target = destination[..samples];
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(target);
        }
        else
        {
            BinaryPrimitives.ReverseEndianness(source, target);
        }

        if ((have & 1) != 0)
        {
            _carry = _bytes[have - 1];
            _hasCarry = true;
        }

        _samplesRead += samples;
        return samples;
    }

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
}

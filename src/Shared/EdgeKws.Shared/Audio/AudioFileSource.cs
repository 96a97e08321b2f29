namespace EdgeKws.Shared.Audio;

/// <summary>
/// Reads any supported WAV file as mono float audio at one target rate (16 kHz by default): WavReader,
/// downmix, <see cref="Resampler"/>. This is the one streaming path tools use to turn a file into the
/// device's format. It fills caller buffers of any size, one block at a time.
/// </summary>
/// <remarks>
/// Memory is fixed after construction (the reader's buffer, one input block, one output block and the
/// resampler's table); <see cref="Read"/> allocates nothing. A file already at the target rate passes
/// through the resampler's identity path unchanged.
/// </remarks>
public sealed class AudioFileSource : IDisposable
{
    /// <summary>Source frames decoded per internal block.</summary>
    internal const int BlockFrames = 4096;

    private readonly WavReader _reader;
    private readonly Resampler _resampler;
    private readonly float[] _input = new float[BlockFrames];
    private readonly float[] _pending;
    private int _pendingStart;
    private int _pendingCount;
    private bool _finished;

    /// <summary>Opens a WAV file; the source owns the file.</summary>
    public AudioFileSource(string path, int targetRateHz = 16_000, WavReaderOptions? options = null)
        : this(new WavReader(path, options), targetRateHz)
    {
    }

    /// <summary>Reads a WAV stream; the stream is disposed with the source unless <paramref name="leaveOpen"/>.</summary>
    public AudioFileSource(Stream stream, int targetRateHz = 16_000, bool leaveOpen = false, WavReaderOptions? options = null)
        : this(new WavReader(stream, leaveOpen, options), targetRateHz)
    {
    }

    private AudioFileSource(WavReader reader, int targetRateHz)
    {
        _reader = reader;
        try
        {
            _resampler = new Resampler(reader.Format.SampleRateHz, targetRateHz);
        }
        catch
        {
            reader.Dispose();
            throw;
        }

        _pending = new float[Math.Max(_resampler.GetMaxOutputCount(BlockFrames), _resampler.MaxFlushCount)];
    }

    /// <summary>The source file's format as parsed.</summary>
    public WavFormat SourceFormat => _reader.Format;

    /// <summary>Rate of the samples <see cref="Read"/> returns.</summary>
    public int SampleRateHz => _resampler.OutputRateHz;

    /// <summary>Samples the whole file yields at <see cref="SampleRateHz"/> (ceil(frames x out / in)); only meaningful when the source frame count is known.</summary>
    public long OutputSampleCount => ((SourceFormat.FrameCount * _resampler.UpFactor) + _resampler.DownFactor - 1) / _resampler.DownFactor;

    /// <summary>True when the reader stopped early on a truncated file (see <see cref="WavReaderOptions.AllowTruncatedData"/>).</summary>
    public bool WasTruncated => _reader.WasTruncated;

    /// <summary>Fills <paramref name="destination"/> with mono samples at <see cref="SampleRateHz"/>; returns the count, which is less than the length only at the end, and 0 after it.</summary>
    public int Read(Span<float> destination)
    {
        int written = 0;
        while (written < destination.Length)
        {
            if (_pendingCount > 0)
            {
                int n = Math.Min(_pendingCount, destination.Length - written);
                _pending.AsSpan(_pendingStart, n).CopyTo(destination[written..]);
                _pendingStart += n;
                _pendingCount -= n;
                written += n;
                continue;
            }

            if (_finished)
            {
                break;
            }

            int frames = _reader.ReadMono(_input);
            _pendingStart = 0;
            if (frames == 0)
            {
                _pendingCount = _resampler.Flush(_pending);
                _finished = true;
            }
            else
            {
                _pendingCount = _resampler.Process(_input.AsSpan(0, frames), _pending);
            }
        }

        return written;
    }

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();
}

using EdgeKws.Shared.Audio;

namespace EdgeKws.Device.Audio;

/// <summary>How a <see cref="WavReplaySource"/> plays its file.</summary>
public sealed record WavReplayOptions
{
    /// <summary>
    /// True: deliver audio no faster than a microphone would (sample n is returned only once
    /// n / 16000 s have passed since the first <see cref="WavReplaySource.Read"/>). False: as fast
    /// as the caller reads (batch evaluation).
    /// </summary>
    public bool RealTime { get; init; } = true;

    /// <summary>How many times the file is played back to back (1 = once). Looping keeps the decoded file in memory.</summary>
    public int PlayCount { get; init; } = 1;

    /// <summary>Longest file that may loop, in seconds of 16 kHz audio (10 min = 19.2 MB of samples).</summary>
    public int MaxLoopSeconds { get; init; } = 600;
}

/// <summary>
/// Replays a WAV file as the device's microphone: any WAV the shared reader accepts, converted
/// to 16 kHz mono S16 by <see cref="AudioFileSource"/> and <see cref="Pcm16.ToInt16(ReadOnlySpan{float}, Span{short})"/>,
/// either paced to real time on an injectable <see cref="TimeProvider"/> or as fast as possible,
/// optionally looped.
/// </summary>
/// <remarks>
/// <para><b>Pacing.</b> The clock starts at the first <see cref="Read"/>. A read of n samples
/// waits until the stream position after it is due (<c>(SamplesRead + n) / 16000</c> s since the
/// start), then decodes and returns them, so the source is never ahead of the wall clock and
/// a cancelled wait loses no audio. Waiting uses one timer made by the <see cref="TimeProvider"/>
/// at construction, so a fake provider controls it completely. A reader that falls behind gets
/// the backlog without waiting, as a microphone's buffer would give it.</para>
/// <para><b>Looping.</b> With <see cref="WavReplayOptions.PlayCount"/> &gt; 1 the first pass
/// streams from the file and keeps the samples in a buffer sized at construction; later passes
/// replay that buffer, so every pass is bit-identical and no pass reopens the file.</para>
/// <para><b>Allocation.</b> All buffers (reader, resampler, one float block, the loop buffer)
/// are allocated by the constructor; <see cref="Read"/> allocates nothing. (The first paced
/// wait with a given cancellable token lets the runtime allocate that token source's
/// registration list once, about 170 bytes; later waits reuse it.)</para>
/// </remarks>
public sealed class WavReplaySource : IAudioSource
{
    /// <summary>The rate every source delivers.</summary>
    public const int OutputRateHz = AlsaCaptureSource.NativeSampleRateHz;

    private const int FloatBlockSamples = 1024;

    private readonly AudioFileSource _file;
    private readonly bool _realTime;
    private readonly int _playCount;
    private readonly TimeProvider _time;
    private readonly float[] _floatBlock = new float[FloatBlockSamples];
    private readonly short[]? _loopBuffer;
    private readonly long _totalSamples; // all passes; -1 when the file's length is not known up front
    private readonly ITimer? _timer;
    private readonly ManualResetEventSlim? _due;
    private int _loopLength;
    private int _pass = 1;
    private int _loopPosition;
    private bool _ended;
    private bool _started;
    private long _startTimestamp;
    private long _samplesRead;
    private bool _disposed;

    /// <summary>Opens <paramref name="path"/> for replay.</summary>
    /// <param name="path">A WAV file (any rate, channels and sample format the shared reader supports).</param>
    /// <param name="options">Pacing and looping; null = real time, once.</param>
    /// <param name="time">Clock for pacing; null = <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WavFormatException">The file is not a usable WAV; the message names the path and the problem.</exception>
    /// <exception cref="ArgumentException">A looped file is too long or its length is unknown, or the options are out of range.</exception>
    public WavReplaySource(string path, WavReplayOptions? options = null, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new WavReplayOptions();
        if (options.PlayCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PlayCount, "WavReplayOptions.PlayCount must be at least 1 (1 = play once).");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"WAV replay source: '{path}' does not exist.", path);
        }

        try
        {
            _file = new AudioFileSource(path, OutputRateHz);
        }
        catch (WavFormatException ex)
        {
            throw new WavFormatException(ex.Error, $"WAV replay source '{path}': {ex.Message}");
        }

        try
        {
            _realTime = options.RealTime;
            _playCount = options.PlayCount;
            _time = time ?? TimeProvider.System;
            Name = $"wav:{path}";
            bool lengthKnown = _file.SourceFormat.IsFrameCountKnown;
            long passSamples = _file.OutputSampleCount;
            _totalSamples = lengthKnown ? passSamples * _playCount : -1;
            if (_playCount > 1)
            {
                long maxSamples = (long)options.MaxLoopSeconds * OutputRateHz;
                if (!lengthKnown)
                {
                    throw new ArgumentException($"WAV replay source '{path}': its data size is not in the header (a streamed recording), so it cannot be looped; play it once or re-save it.", nameof(options));
                }

                if (passSamples > maxSamples)
                {
                    throw new ArgumentException(
                        $"WAV replay source '{path}': {passSamples / (double)OutputRateHz:F1} s is longer than the {options.MaxLoopSeconds} s a looped file may be (looping keeps it in memory); play it once or cut it.",
                        nameof(options));
                }

                // The resampler's flush can add a sample or two beyond the nominal count.
                _loopBuffer = new short[passSamples + 64];
            }

            if (_realTime)
            {
                _due = new ManualResetEventSlim(false);
                _timer = _time.CreateTimer(static s => ((ManualResetEventSlim)s!).Set(), _due, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
        catch
        {
            _file.Dispose();
            _due?.Dispose();
            throw;
        }
    }

    public int SampleRateHz => OutputRateHz;

    public string Name { get; }

    public long SamplesRead => _samplesRead;

    /// <summary>Always 0: a file cannot overrun.</summary>
    public long OverrunCount => 0;

    /// <summary>The pass being played (1-based); equals <see cref="WavReplayOptions.PlayCount"/> on the last one.</summary>
    public int CurrentPass => _pass;

    /// <summary>Samples all passes deliver, when the file header gives the length (a streamed WAV without one: false).</summary>
    public bool TryGetTotalSamples(out long samples)
    {
        samples = _totalSamples;
        return _totalSamples >= 0;
    }

    public int Read(Span<short> destination, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (destination.IsEmpty)
        {
            throw new ArgumentException("Destination must hold at least one sample.", nameof(destination));
        }

        ct.ThrowIfCancellationRequested();
        if (_ended)
        {
            return 0;
        }

        int want = destination.Length;
        bool pastNominalEnd = false;
        if (_totalSamples >= 0)
        {
            long left = _totalSamples - _samplesRead;
            // At the announced end, ask for one sample without waiting: the file normally yields
            // exactly the announced count, so this finds the end (0) at once.
            pastNominalEnd = left <= 0;
            want = (int)Math.Min(want, Math.Max(left, 1));
        }

        if (_realTime && !pastNominalEnd)
        {
            WaitUntilDue(_samplesRead + want, ct);
        }

        int n = Fill(destination[..want]);
        if (n == 0)
        {
            _ended = true;
        }
        else if (_realTime && pastNominalEnd)
        {
            WaitUntilDue(_samplesRead + n, ct); // a sample beyond the announced count still keeps time
        }

        _samplesRead += n;
        return n;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _timer?.Dispose();
        _due?.Dispose();
        _file.Dispose();
    }

    // Blocks until `position` samples are due since the first read.
    private void WaitUntilDue(long position, CancellationToken ct)
    {
        long now = _time.GetTimestamp();
        if (!_started)
        {
            _started = true;
            _startTimestamp = now;
        }

        while (true)
        {
            var dueAt = TimeSpan.FromTicks(position * TimeSpan.TicksPerSecond / OutputRateHz);
            var remaining = dueAt - _time.GetElapsedTime(_startTimestamp, now);
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            _due!.Reset();
            _timer!.Change(remaining, Timeout.InfiniteTimeSpan);
            _due.Wait(ct);
            now = _time.GetTimestamp();
        }
    }

    // Fills as much of `destination` as the remaining passes hold; 0 only when all are done.
    private int Fill(Span<short> destination)
    {
        int written = 0;
        while (written < destination.Length)
        {
            if (_pass == 1)
            {
                var block = _floatBlock.AsSpan(0, Math.Min(FloatBlockSamples, destination.Length - written));
                int n = _file.Read(block);
                if (n > 0)
                {
                    var target = destination.Slice(written, n);
                    Pcm16.ToInt16(block[..n], target);
                    if (_loopBuffer is not null)
                    {
                        if (_loopLength + n > _loopBuffer.Length)
                        {
                            throw new InvalidOperationException($"{Name}: the file decoded to more samples than its header announced ({_loopLength + n} > {_loopBuffer.Length}).");
                        }

                        target.CopyTo(_loopBuffer.AsSpan(_loopLength));
                        _loopLength += n;
                    }

                    written += n;
                    continue;
                }

                if (_loopBuffer is null || _loopLength == 0)
                {
                    break; // played once, or an empty file: nothing to loop
                }

                _pass = 2;
                _loopPosition = 0;
            }

            if (_loopPosition == _loopLength)
            {
                if (_pass >= _playCount)
                {
                    break;
                }

                _pass++;
                _loopPosition = 0;
            }

            int take = Math.Min(_loopLength - _loopPosition, destination.Length - written);
            _loopBuffer!.AsSpan(_loopPosition, take).CopyTo(destination[written..]);
            _loopPosition += take;
            written += take;
        }

        return written;
    }
}

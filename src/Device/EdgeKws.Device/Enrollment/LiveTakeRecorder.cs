using EdgeKws.Device.Audio;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Enrollment;

/// <summary>Live level for a meter: the last 50 ms window.</summary>
/// <param name="RmsDbFs">RMS of the window, dBFS.</param>
/// <param name="PeakDbFs">Peak of the window, dBFS.</param>
/// <param name="InSpeech">The live VAD is in speech.</param>
/// <param name="ElapsedMs">Time since this take's recording started.</param>
public readonly record struct LiveLevel(double RmsDbFs, double PeakDbFs, bool InSpeech, double ElapsedMs);

/// <summary>How a live recording of one take ended.</summary>
/// <param name="SampleCount">Samples written to the take buffer (pre-roll included).</param>
/// <param name="HeardSpeech">The live VAD saw speech start.</param>
/// <param name="EndOfStream">The source ended (stdin closed, capture limit reached).</param>
/// <param name="HitCapacity">Speech went on until the take buffer was full.</param>
public readonly record struct TakeCapture(int SampleCount, bool HeardSpeech, bool EndOfStream, bool HitCapacity);

/// <summary>Timing of VAD-delimited live takes.</summary>
public sealed record LiveTakeOptions
{
    /// <summary>
    /// Audio kept from before the speech onset: the noise the SNR and VAD of the take need. The
    /// buffer is compacted only when the wait reaches twice this, so 1-2x this much is kept.
    /// </summary>
    public int PreRollMs { get; init; } = 500;

    /// <summary>Audio kept after the live VAD closed the speech segment (which itself waits out a 200 ms hangover).</summary>
    public int TailMs { get; init; } = 300;

    /// <summary>How long to wait for speech to start before giving up on this attempt.</summary>
    public int ListenTimeoutMs { get; init; } = 8000;
}

/// <summary>
/// Records one take at a time from a continuous source (ALSA microphone, stdin), delimited by a
/// live energy VAD: it waits for speech (keeping a pre-roll of the noise before it), records until
/// the VAD has closed the segment plus a short tail, or until the take buffer is full, or gives up
/// after <see cref="LiveTakeOptions.ListenTimeoutMs"/> without speech. The source stays open across
/// takes, so consecutive takes in one stream (a fake microphone, a pipe) are cut at their pauses.
/// </summary>
/// <remarks>
/// The live VAD only delimits; the take is then judged afresh by <see cref="EnrollmentSession"/>.
/// Allocation: buffers in the constructor; <see cref="Record"/> allocates nothing.
/// </remarks>
public sealed class LiveTakeRecorder
{
    private const int BlockSamples = 320;

    private readonly IAudioSource _source;
    private readonly LiveTakeOptions _options;
    private readonly EnergyVad _vad;
    private readonly LevelMeter _meter;
    private readonly short[] _block = new short[BlockSamples];
    private readonly float[] _floats = new float[BlockSamples];

    /// <param name="source">The audio; read on the caller's thread; not disposed here.</param>
    /// <param name="options">Timing; null for the defaults.</param>
    public LiveTakeRecorder(IAudioSource source, LiveTakeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _options = options ?? new LiveTakeOptions();
        _vad = new EnergyVad(new EnergyVadSettings { SampleRateHz = source.SampleRateHz });
        _meter = new LevelMeter(source.SampleRateHz);
    }

    /// <summary>Records one take into <paramref name="take"/>; see the class remarks for when it stops.</summary>
    /// <param name="take">The take buffer (e.g. <see cref="EnrollmentSession.TakeBuffer"/>).</param>
    /// <param name="onLevel">Called with every completed 50 ms level window (for a meter); may be null.</param>
    /// <param name="ct">Cancels a blocked read.</param>
    public TakeCapture Record(Span<short> take, Action<LiveLevel>? onLevel, CancellationToken ct)
    {
        int rate = _source.SampleRateHz;
        int preRoll = (int)((long)_options.PreRollMs * rate / 1000);
        int tail = (int)((long)_options.TailMs * rate / 1000);
        long listenLimit = (long)_options.ListenTimeoutMs * rate / 1000;
        if (take.Length < 2 * preRoll + BlockSamples)
        {
            throw new ArgumentException($"take buffer of {take.Length} samples is too short for a {_options.PreRollMs} ms pre-roll.", nameof(take));
        }

        int pos = 0;
        long elapsed = 0;
        bool heard = false;
        long stopAt = -1;
        long windows = _meter.SampleCount / _meter.WindowSamples;
        while (true)
        {
            int room = Math.Min(BlockSamples, take.Length - pos);
            int n = _source.Read(_block.AsSpan(0, room), ct);
            if (n == 0)
            {
                return new TakeCapture(pos, heard, EndOfStream: true, HitCapacity: false);
            }

            _block.AsSpan(0, n).CopyTo(take[pos..]);
            pos += n;
            elapsed += n;
            Pcm16.ToFloat(_block.AsSpan(0, n), _floats);
            _vad.Push(_floats.AsSpan(0, n));
            _meter.Push(_floats.AsSpan(0, n));
            long nowWindows = _meter.SampleCount / _meter.WindowSamples;
            if (onLevel is not null && nowWindows != windows && _meter.TryGetWindow(out LevelReading w))
            {
                onLevel(new LiveLevel(w.RmsDbFs, w.PeakDbFs, _vad.IsInSpeech, elapsed * 1000.0 / rate));
            }

            windows = nowWindows;
            if (!heard)
            {
                if (_vad.IsInSpeech)
                {
                    heard = true;
                }
                else if (elapsed >= listenLimit)
                {
                    return new TakeCapture(pos, HeardSpeech: false, EndOfStream: false, HitCapacity: false);
                }
                else if (pos >= 2 * preRoll)
                {
                    // Keep only the last pre-roll of the waiting time (memmove semantics: overlap is fine).
                    take.Slice(pos - preRoll, preRoll).CopyTo(take);
                    pos = preRoll;
                }
            }
            else if (_vad.IsInSpeech)
            {
                stopAt = -1;
            }
            else if (stopAt < 0)
            {
                stopAt = pos + tail;
            }

            if (heard && stopAt >= 0 && pos >= stopAt)
            {
                return new TakeCapture(pos, HeardSpeech: true, EndOfStream: false, HitCapacity: false);
            }

            if (pos == take.Length)
            {
                return new TakeCapture(pos, heard, EndOfStream: false, HitCapacity: heard);
            }
        }
    }
}

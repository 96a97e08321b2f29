namespace EdgeKws.Device.Audio;

/// <summary>How to open an ALSA capture device.</summary>
public sealed record AlsaCaptureOptions
{
    /// <summary>Device 16 kHz mono S16 capture is asked of, e.g. <c>default</c>, <c>plughw:CARD=Device,DEV=0</c>, <c>dsnoop_mic</c>.</summary>
    public string DeviceName { get; init; } = "default";

    /// <summary>
    /// ALSA period in frames: the unit the hardware interrupts in and the most one
    /// <see cref="AlsaCaptureSource.Read"/> returns. 320 frames = 20 ms at 16 kHz (two 10 ms MFCC hops).
    /// </summary>
    public int PeriodFrames { get; init; } = 320;

    /// <summary>Ring buffer length in periods; the reader may fall this far behind before an overrun.</summary>
    public int BufferPeriods { get; init; } = 8;

    /// <summary>
    /// Stop after this many samples (<see cref="AlsaCaptureSource.Read"/> then returns 0), like
    /// <c>arecord -s</c>; null captures until disposed. ALSA cannot tell a finite input from a live
    /// microphone (see <see cref="AlsaCaptureSource"/>), so this is how a capture of known length ends.
    /// </summary>
    public long? MaxSamples { get; init; }
}

/// <summary>
/// Captures 16 kHz mono S16 from an ALSA PCM by calling libasound.so.2 directly.
/// </summary>
/// <remarks>
/// <para>Hardware parameters are set call by call (<c>snd_pcm_hw_params_set_*</c>) rather than with
/// <c>snd_pcm_set_params</c>, so the period and buffer sizes are exactly what the options say
/// (rounded by the driver with the <c>_near</c> calls; the granted sizes are in
/// <see cref="PeriodFrames"/> and <see cref="BufferFrames"/>).</para>
/// <para>The PCM is opened non-blocking and waited on with <c>snd_pcm_wait</c> in 50 ms slices, so a
/// cancelled token ends a read within 50 ms even if the device stops delivering; each
/// <c>snd_pcm_readi</c> asks for at most one period (the file plugin answers requests larger than
/// its buffer with "requested more frames than pcm buffer" and no data).</para>
/// <para>Overruns (-EPIPE) and suspends (-ESTRPIPE) are recovered with <c>snd_pcm_recover</c>, counted
/// in <see cref="OverrunCount"/> / <see cref="SuspendCount"/>, and capture continues; the lost audio
/// is not replaced. The file-plugin fake microphone cannot overrun (its null slave has no clock:
/// every read returns at once), so the tests drive this path with real <c>snd_pcm_recover</c>
/// calls on a real PCM through <see cref="HandleError"/>.</para>
/// <para>End of stream: a microphone never ends. <see cref="Read"/> returns 0 once
/// <see cref="AlsaCaptureOptions.MaxSamples"/> samples were delivered, or if ALSA itself reports zero
/// frames. Observed with alsa-lib 1.2.8: the file plugin used as a fake microphone does NOT signal
/// the end of its infile. Past the end, <c>snd_pcm_readi</c> keeps returning the full count
/// requested, immediately, without an error, and writes nothing into the caller's buffer (the
/// file plugin copies only the bytes it read; the null slave writes nothing). This source clears
/// the requested span before each read, so such frames come out as silence, never as stale audio.
/// A capture of a known length sets <see cref="AlsaCaptureOptions.MaxSamples"/>; finite audio is
/// otherwise better read through <see cref="StdinPcmSource"/> or a WAV reader.</para>
/// <para>Start: the file plugin delivers the infile from its first sample: ALSA inserts no
/// silence before it (asserted in the tests).</para>
/// <para>Allocation: the constructor allocates; <see cref="Read"/> does not (errors excepted).</para>
/// </remarks>
public sealed unsafe class AlsaCaptureSource : IAudioSource
{
    /// <summary>The device's native rate: the only rate this source accepts.</summary>
    public const int NativeSampleRateHz = 16000;

    private const int WaitSliceMs = 50;

    private readonly string _deviceName;
    private readonly long _maxSamples;
    private nint _pcm;
    private long _samplesRead;
    private long _overrunCount;
    private long _suspendCount;
    private bool _ended;

    public AlsaCaptureSource(AlsaCaptureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.DeviceName))
        {
            throw new ArgumentException("ALSA device name must not be empty (e.g. 'default' or 'plughw:CARD=Device,DEV=0').", nameof(options));
        }

        if (options.PeriodFrames is < 16 or > 16000)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PeriodFrames,
                "ALSA period must be 16..16000 frames (1 ms..1 s at 16 kHz).");
        }

        if (options.BufferPeriods is < 2 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BufferPeriods,
                "ALSA buffer must be 2..64 periods long.");
        }

        if (options.MaxSamples is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxSamples,
                "MaxSamples must not be negative (null captures until disposed).");
        }

        _deviceName = options.DeviceName;
        _maxSamples = options.MaxSamples ?? long.MaxValue;
        Name = "alsa:" + options.DeviceName;
        LibAsound.EnsureLoaded();

        var err = LibAsound.snd_pcm_open(out _pcm, _deviceName, LibAsound.StreamCapture, LibAsound.OpenNonBlock);
        if (err < 0)
        {
            _pcm = 0;
            throw new AlsaException(
                $"ALSA capture device '{_deviceName}' could not be opened: {LibAsound.StrError(err)}", err);
        }

        try
        {
            Configure(options.PeriodFrames, options.BufferPeriods);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int SampleRateHz => NativeSampleRateHz;

    public string Name { get; }

    public long SamplesRead => _samplesRead;

    public long OverrunCount => _overrunCount;

    /// <summary>Times the stream was suspended (system sleep) and resumed or re-prepared.</summary>
    public long SuspendCount => _suspendCount;

    /// <summary>Period size ALSA granted, in frames: the most one <see cref="Read"/> returns.</summary>
    public int PeriodFrames { get; private set; }

    /// <summary>Ring buffer size ALSA granted, in frames.</summary>
    public int BufferFrames { get; private set; }

    public int Read(Span<short> destination, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_pcm == 0, this);
        if (destination.IsEmpty)
        {
            throw new ArgumentException("Destination must hold at least one sample.", nameof(destination));
        }

        var remaining = _maxSamples - _samplesRead;
        if (remaining <= 0 || _ended)
        {
            return 0;
        }

        var frames = (int)Math.Min(Math.Min(destination.Length, PeriodFrames), remaining);
        // Frames a plugin reports without writing (the file plugin past its infile) read as silence.
        destination[..frames].Clear();
        fixed (short* buffer = destination)
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var n = LibAsound.snd_pcm_readi(_pcm, buffer, (nuint)frames);
                if (n > 0)
                {
                    _samplesRead += n;
                    return (int)n;
                }

                if (n == 0)
                {
                    _ended = true;
                    return 0;
                }

                var error = (int)n;
                if (error == -LibAsound.EAGAIN)
                {
                    // Not a full request's worth yet: sleep in the kernel until the device has data
                    // (or the slice ends, so cancellation is noticed).
                    var waited = LibAsound.snd_pcm_wait(_pcm, WaitSliceMs);
                    if (waited < 0)
                    {
                        HandleError(waited, "wait");
                    }

                    continue;
                }

                HandleError(error, "read");
            }
        }
    }

    /// <summary>
    /// Recovers from an xrun or suspend (counting it) or throws for anything else. Internal so tests
    /// can drive the real recovery calls on a real PCM: the file plugin never overruns by itself.
    /// </summary>
    internal void HandleError(int error, string operation)
    {
        switch (-error)
        {
            case LibAsound.EINTR:
                return;
            case LibAsound.EPIPE:
                _overrunCount++;
                break;
            case LibAsound.ESTRPIPE:
                _suspendCount++;
                break;
            default:
                throw new AlsaException(
                    $"ALSA capture device '{_deviceName}' {operation} failed: {LibAsound.StrError(error)}", error);
        }

        var recovered = LibAsound.snd_pcm_recover(_pcm, error, 1);
        if (recovered < 0)
        {
            throw new AlsaException(
                $"ALSA capture device '{_deviceName}' could not recover from {(error == -LibAsound.EPIPE ? "an overrun" : "a suspend")}: {LibAsound.StrError(recovered)}",
                recovered);
        }
    }

    /// <summary>ALSA's state of the PCM (SND_PCM_STATE_*), for tests and diagnostics.</summary>
    internal int State
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pcm == 0, this);
            return LibAsound.snd_pcm_state(_pcm);
        }
    }

    public void Dispose()
    {
        var pcm = _pcm;
        _pcm = 0;
        if (pcm != 0)
        {
            _ = LibAsound.snd_pcm_close(pcm);
        }
    }

    private void Configure(int periodFrames, int bufferPeriods)
    {
        var err = LibAsound.snd_pcm_hw_params_malloc(out var hw);
        Check(err, "could not allocate hardware parameters");
        try
        {
            Check(LibAsound.snd_pcm_hw_params_any(_pcm, hw), "has no usable configuration");
            Check(LibAsound.snd_pcm_hw_params_set_access(_pcm, hw, LibAsound.AccessRwInterleaved),
                "does not support interleaved read access");
            var format = BitConverter.IsLittleEndian ? LibAsound.FormatS16Le : LibAsound.FormatS16Be;
            Check(LibAsound.snd_pcm_hw_params_set_format(_pcm, hw, format),
                "does not support 16-bit samples (S16); use a 'plug' or 'plughw:' device to convert");
            Check(LibAsound.snd_pcm_hw_params_set_channels(_pcm, hw, 1),
                "does not support 1 channel (mono); use a 'plug' or 'plughw:' device to convert");

            var rate = (uint)NativeSampleRateHz;
            var dir = 0;
            Check(LibAsound.snd_pcm_hw_params_set_rate_near(_pcm, hw, ref rate, ref dir),
                $"does not support {NativeSampleRateHz} Hz");
            if (rate != NativeSampleRateHz)
            {
                throw new AlsaException(
                    $"ALSA capture device '{_deviceName}' runs at {rate} Hz, not {NativeSampleRateHz} Hz; use a 'plughw:' device so ALSA resamples.", 0);
            }

            var period = (nuint)periodFrames;
            dir = 0;
            Check(LibAsound.snd_pcm_hw_params_set_period_size_near(_pcm, hw, ref period, ref dir),
                $"does not accept a period of {periodFrames} frames");
            var buffer = period * (nuint)bufferPeriods;
            Check(LibAsound.snd_pcm_hw_params_set_buffer_size_near(_pcm, hw, ref buffer),
                $"does not accept a buffer of {bufferPeriods} periods");
            Check(LibAsound.snd_pcm_hw_params(_pcm, hw), "rejected the hardware parameters");
        }
        finally
        {
            LibAsound.snd_pcm_hw_params_free(hw);
        }

        Check(LibAsound.snd_pcm_get_params(_pcm, out var grantedBuffer, out var grantedPeriod),
            "could not report its period and buffer sizes");
        PeriodFrames = (int)grantedPeriod;
        BufferFrames = (int)grantedBuffer;
    }

    private void Check(int err, string what)
    {
        if (err < 0)
        {
            throw new AlsaException($"ALSA capture device '{_deviceName}' {what}: {LibAsound.StrError(err)}", err);
        }
    }
}

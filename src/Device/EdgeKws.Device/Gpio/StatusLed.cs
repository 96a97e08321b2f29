using System.Device.Gpio;

namespace EdgeKws.Device.Gpio;

/// <summary>
/// Drives the status LED from the agent's conditions. Other threads set the conditions
/// (<see cref="Listening"/>, <see cref="Offline"/>, <see cref="Updating"/>, <see cref="Muted"/>,
/// <see cref="Fatal"/>, <see cref="SignalDetected"/>); one thread calls <see cref="Tick"/>
/// every few milliseconds, which works out the pattern's level at the injected clock's "now"
/// and writes the pin only when the level changes. No sleeping anywhere, so a test drives it
/// with a fake <see cref="TimeProvider"/> and exact timings.
/// </summary>
/// <remarks>
/// <para><b>Priority</b> when several conditions hold (highest wins):
/// Fatal &gt; Muted &gt; Updating &gt; Detected &gt; Offline &gt; Listening &gt; Off.
/// Fatal first: nothing else matters until someone fixes it. Muted next: it is a privacy
/// promise, so the LED must say so whenever it is true, even during an update (a slot swap is
/// seconds long and atomic, so hiding "updating" then costs little). Updating above Detected so
/// the "do not unplug" blink is never interrupted. Detected above Offline and Listening: the
/// user gets feedback that the wake word was heard even while the uplink is down (the
/// detection waits in the outbox).</para>
/// <para><b>Phase</b>: a pattern starts from its beginning whenever the shown indication
/// changes (so going offline shows its flash at once); a detection's burst starts at the
/// <see cref="SignalDetected"/> call and a new detection restarts it.</para>
/// <para><b>Pin -1</b> disables the LED: conditions are still tracked (<see cref="Current"/>)
/// but no GPIO is touched, and no controller is needed.</para>
/// <para>Allocation: the setters and <see cref="Tick"/> allocate nothing themselves; a tick that
/// changes the level calls <see cref="GpioController.Write(int, PinValue)"/>, which in
/// System.Device.Gpio 4.2 records the value in a ConcurrentDictionary (40 bytes a write, at most
/// 10 writes a second with the fastest pattern).</para>
/// </remarks>
public sealed class StatusLed : IDisposable
{
    private readonly GpioController? _controller;
    private readonly TimeProvider _time;
    private readonly PinValue _onValue;
    private readonly PinValue _offValue;
    private volatile bool _listening;
    private volatile bool _offline;
    private volatile bool _updating;
    private volatile bool _muted;
    private volatile bool _fatal;
    private long _detectedAt = long.MinValue;
    private StatusIndication _shown = StatusIndication.Off;
    private long _shownSince;
    private bool _lit;
    private bool _disposed;

    /// <param name="controller">Controller owning the pin; may be null only when <paramref name="pin"/> is -1. Not disposed here.</param>
    /// <param name="pin">Output pin (BCM number), or -1 for no LED.</param>
    /// <param name="time">Clock for the patterns; <see cref="TimeProvider.System"/> on a device.</param>
    /// <param name="activeHigh">True when a High pin lights the LED (common cathode, as in the profile); false for common anode.</param>
    public StatusLed(GpioController? controller, int pin, TimeProvider time, bool activeHigh = true)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (pin < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(pin), pin, "The status LED pin must be a GPIO number or -1 (disabled).");
        }

        if (pin >= 0 && controller is null)
        {
            throw new ArgumentNullException(nameof(controller), $"Status LED on GPIO {pin} needs a GpioController (only pin -1 works without one).");
        }

        _time = time;
        Pin = pin;
        _onValue = activeHigh ? PinValue.High : PinValue.Low;
        _offValue = activeHigh ? PinValue.Low : PinValue.High;
        _shownSince = time.GetTimestamp();
        if (pin >= 0)
        {
            _controller = controller;
            _controller!.OpenPin(pin, PinMode.Output, _offValue);
        }
    }

    /// <summary>The LED's GPIO, or -1 when disabled.</summary>
    public int Pin { get; }

    /// <summary>True when an LED pin is configured.</summary>
    public bool IsEnabled => Pin >= 0;

    /// <summary>Whether the LED was lit by the last <see cref="Tick"/>.</summary>
    public bool IsLit => _lit;

    /// <summary>The capture loop is running.</summary>
    public bool Listening { get => _listening; set => _listening = value; }

    /// <summary>The broker is unreachable.</summary>
    public bool Offline { get => _offline; set => _offline = value; }

    /// <summary>A model update is in progress.</summary>
    public bool Updating { get => _updating; set => _updating = value; }

    /// <summary>Listening is muted for privacy.</summary>
    public bool Muted { get => _muted; set => _muted = value; }

    /// <summary>The agent cannot work.</summary>
    public bool Fatal { get => _fatal; set => _fatal = value; }

    /// <summary>The indication the LED shows now, by the priority rule.</summary>
    public StatusIndication Current => Resolve(_time.GetTimestamp());

    /// <summary>A keyword was detected: show the burst from now (restarting one in progress).</summary>
    public void SignalDetected() => Interlocked.Exchange(ref _detectedAt, _time.GetTimestamp());

    /// <summary>Sets the pin to the current pattern's level at the clock's now. Call it every ~10 ms from one thread.</summary>
    public void Tick()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long now = _time.GetTimestamp();
        var indication = Resolve(now);
        if (indication != _shown)
        {
            _shown = indication;
            _shownSince = now;
        }

        long start = indication == StatusIndication.Detected ? Interlocked.Read(ref _detectedAt) : _shownSince;
        bool lit = StatusPatterns.For(indication).IsOnAt(_time.GetElapsedTime(start, now));
        if (lit != _lit)
        {
            _lit = lit;
            if (_controller is not null)
            {
                _controller.Write(Pin, lit ? _onValue : _offValue);
            }
        }
    }

    /// <summary>Turns the LED off and releases its pin (the controller stays with its owner).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_controller is not null && _controller.IsPinOpen(Pin))
        {
            _controller.Write(Pin, _offValue);
            _controller.ClosePin(Pin);
        }
    }

    private StatusIndication Resolve(long now)
    {
        if (_fatal)
        {
            return StatusIndication.Fatal;
        }

        if (_muted)
        {
            return StatusIndication.Muted;
        }

        if (_updating)
        {
            return StatusIndication.Updating;
        }

        long detectedAt = Interlocked.Read(ref _detectedAt);
        if (detectedAt != long.MinValue
            && _time.GetElapsedTime(detectedAt, now).TotalMilliseconds < StatusPatterns.Detected.DurationMs)
        {
            return StatusIndication.Detected;
        }

        if (_offline)
        {
            return StatusIndication.Offline;
        }

        return _listening ? StatusIndication.Listening : StatusIndication.Off;
    }
}

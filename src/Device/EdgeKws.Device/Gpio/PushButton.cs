using System.Device.Gpio;

namespace EdgeKws.Device.Gpio;

/// <summary>A recognised button gesture.</summary>
public enum ButtonGesture
{
    /// <summary>Pressed and released within <see cref="ButtonOptions.ShortPressMaxMs"/>.</summary>
    ShortPress,
    /// <summary>Held for <see cref="ButtonOptions.LongPressMs"/>; reported while still held.</summary>
    LongPress,
}

/// <summary>Button timing. Defaults follow hardware/raspberry-pi/profile.md.</summary>
public sealed record ButtonOptions
{
    /// <summary>A level must stay this long before it counts (the profile's 50 ms software debounce).</summary>
    public int DebounceMs { get; init; } = 50;

    /// <summary>Longest press, from debounced press to debounced release, that is a short press (the profile's "&lt; 1 s").</summary>
    public int ShortPressMaxMs { get; init; } = 1000;

    /// <summary>Hold time that makes a long press (the profile's "hold 3 s").</summary>
    public int LongPressMs { get; init; } = 3000;

    internal void Validate()
    {
        if (DebounceMs < 0 || ShortPressMaxMs <= DebounceMs || LongPressMs < ShortPressMaxMs)
        {
            throw new ArgumentException(
                $"Button timings must satisfy 0 <= DebounceMs < ShortPressMaxMs <= LongPressMs; got {DebounceMs}, {ShortPressMaxMs}, {LongPressMs} ms.");
        }
    }
}

/// <summary>
/// A momentary push button wired active-low (pin to GND, internal pull-up: pressed reads Low),
/// debounced in software and turned into <see cref="ButtonGesture"/>s.
/// </summary>
/// <remarks>
/// <para>Edges arrive from the driver's pin-change callback (any thread) and are only recorded
/// with the clock's time; <see cref="Tick"/>, called every ~10 ms from one thread, also reads
/// the pin (so a missed edge event cannot leave the state stuck), accepts a level once it has
/// been stable for <see cref="ButtonOptions.DebounceMs"/>, and raises <see cref="Gesture"/> on
/// that thread. A bounce or glitch shorter than the debounce time is never seen as a press.</para>
/// <para>Gestures: released within <see cref="ButtonOptions.ShortPressMaxMs"/> = short press
/// (raised on release); held <see cref="ButtonOptions.LongPressMs"/> = long press (raised at
/// the threshold, while held, so the user sees the effect without guessing when to let go;
/// nothing more on release). A hold between the two is ignored: neither a tap nor a deliberate
/// hold, so most likely an accident. A button already held when this object is created counts
/// as pressed from then (a hold at boot can become a long press).</para>
/// <para>Pin -1 disables the button: it never reports anything and needs no controller.</para>
/// <para>Allocation: <see cref="Tick"/> allocates nothing (handlers of <see cref="Gesture"/> may).</para>
/// </remarks>
public sealed class PushButton : IDisposable
{
    private readonly GpioController? _controller;
    private readonly TimeProvider _time;
    private readonly ButtonOptions _options;
    private readonly PinChangeEventHandler? _onEdge;
    private readonly Lock _lock = new();
    private bool _rawPressed;
    private long _rawChangedAt;
    private bool _pressed;
    private long _pressedAt;
    private bool _longReported;
    private bool _disposed;

    /// <param name="controller">Controller owning the pin; may be null only when <paramref name="pin"/> is -1. Not disposed here.</param>
    /// <param name="pin">Input pin (BCM number), or -1 for no button.</param>
    /// <param name="time">Clock for debounce and hold times.</param>
    /// <param name="options">Timings; null for the defaults.</param>
    public PushButton(GpioController? controller, int pin, TimeProvider time, ButtonOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _options = options ?? new ButtonOptions();
        _options.Validate();
        if (pin < -1)
        {
            throw new ArgumentOutOfRangeException(nameof(pin), pin, "The button pin must be a GPIO number or -1 (disabled).");
        }

        if (pin >= 0 && controller is null)
        {
            throw new ArgumentNullException(nameof(controller), $"Button on GPIO {pin} needs a GpioController (only pin -1 works without one).");
        }

        _time = time;
        Pin = pin;
        _rawChangedAt = _pressedAt = time.GetTimestamp();
        if (pin < 0)
        {
            return;
        }

        _controller = controller;
        _controller!.OpenPin(pin, PinMode.InputPullUp);
        _rawPressed = _pressed = _controller.Read(pin) == PinValue.Low;
        _onEdge = OnEdge;
        _controller.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising | PinEventTypes.Falling, _onEdge);
    }

    /// <summary>Raised from <see cref="Tick"/> when a gesture is recognised.</summary>
    public event Action<ButtonGesture>? Gesture;

    /// <summary>The button's GPIO, or -1 when disabled.</summary>
    public int Pin { get; }

    /// <summary>True when a button pin is configured.</summary>
    public bool IsEnabled => Pin >= 0;

    /// <summary>The debounced state as of the last <see cref="Tick"/>.</summary>
    public bool IsPressed => _pressed;

    /// <summary>Reads the pin, applies the debounce at the clock's now and raises any gesture.</summary>
    public void Tick()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_controller is null)
        {
            return;
        }

        long now = _time.GetTimestamp();
        bool level = _controller.Read(Pin) == PinValue.Low;
        bool raw;
        long rawAt;
        lock (_lock)
        {
            if (level != _rawPressed)
            {
                // The edge event was missed or is still on its way: take the change as of now.
                _rawPressed = level;
                _rawChangedAt = now;
            }

            raw = _rawPressed;
            rawAt = _rawChangedAt;
        }

        if (raw != _pressed && _time.GetElapsedTime(rawAt, now).TotalMilliseconds >= _options.DebounceMs)
        {
            _pressed = raw;
            if (raw)
            {
                _pressedAt = rawAt;
                _longReported = false;
            }
            else if (!_longReported && _time.GetElapsedTime(_pressedAt, rawAt).TotalMilliseconds < _options.ShortPressMaxMs)
            {
                Gesture?.Invoke(ButtonGesture.ShortPress);
            }
        }

        if (_pressed && !_longReported && _time.GetElapsedTime(_pressedAt, now).TotalMilliseconds >= _options.LongPressMs)
        {
            _longReported = true;
            Gesture?.Invoke(ButtonGesture.LongPress);
        }
    }

    /// <summary>Stops listening to the pin and releases it (the controller stays with its owner).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_controller is not null && _controller.IsPinOpen(Pin))
        {
            _controller.UnregisterCallbackForPinValueChangedEvent(Pin, _onEdge!);
            _controller.ClosePin(Pin);
        }
    }

    private void OnEdge(object sender, PinValueChangedEventArgs e)
    {
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            _rawPressed = e.ChangeType == PinEventTypes.Falling;
            _rawChangedAt = now;
        }
    }
}

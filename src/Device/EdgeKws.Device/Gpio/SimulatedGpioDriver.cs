using System.Device.Gpio;

namespace EdgeKws.Device.Gpio;

/// <summary>
/// A GPIO chip in memory, in the style of dotnet/iot's simulated devices: use it behind
/// <c>new GpioController(new SimulatedGpioDriver())</c> in tests, in CI and on boards without
/// GPIO (<c>Gpio.Driver = "simulated"</c>). Output pins hold what was written; input pins read
/// what a test drives onto them (<see cref="DriveInput"/>) or, when nothing drives them, their
/// pull resistor's level. Level changes raise the registered pin-change callbacks synchronously
/// on the thread that caused them, rising and falling as the real drivers report them.
/// </summary>
/// <remarks>
/// Pins are BCM-style numbers 0 to <see cref="SimulatedPinCount"/> - 1. State is fixed-size
/// arrays allocated once; writes and reads allocate nothing (a level change allocates only when
/// callbacks listen to that pin: the handler array and the event arguments). Thread-safe: tests drive inputs from one thread while the
/// code under test reads from another.
/// </remarks>
public sealed class SimulatedGpioDriver : GpioDriver
{
    /// <summary>BCM GPIO 0-53, the range the configuration accepts.</summary>
    public const int SimulatedPinCount = 54;

    private readonly Lock _lock = new();
    private readonly bool[] _open = new bool[SimulatedPinCount];
    private readonly PinMode[] _mode = new PinMode[SimulatedPinCount];
    private readonly PinValue[] _output = new PinValue[SimulatedPinCount];
    private readonly PinValue?[] _driven = new PinValue?[SimulatedPinCount];
    private readonly List<(int Pin, PinEventTypes Types, PinChangeEventHandler Handler)> _callbacks = [];

    /// <summary>
    /// Raised after every write to an output pin (also when the value did not change), on the
    /// writer's thread. Lets a test record an LED's waveform against its own clock without the
    /// driver keeping an unbounded log.
    /// </summary>
    public event Action<int, PinValue>? OutputWritten;

    protected override int PinCount => SimulatedPinCount;

    /// <summary>
    /// False makes level changes raise no callbacks, as when a real driver's event queue
    /// overflows; code that must not get stuck on a lost edge can be tested with it.
    /// </summary>
    public bool EdgeEventsEnabled { get; set; } = true;

    /// <summary>The level the pin has now: the output latch for outputs, else the driven or pulled level.</summary>
    public PinValue GetLevel(int pinNumber)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            return LevelOf(pinNumber);
        }
    }

    /// <summary>True while the pin is open (between the controller's OpenPin and ClosePin).</summary>
    public bool IsOpen(int pinNumber)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            return _open[pinNumber];
        }
    }

    /// <summary>
    /// Something outside drives the pin to <paramref name="value"/> (a button shorting it to
    /// ground drives Low). Raises the pin's callbacks when its level changes.
    /// </summary>
    public void DriveInput(int pinNumber, PinValue value)
    {
        CheckRange(pinNumber);
        SetExternal(pinNumber, value);
    }

    /// <summary>Nothing drives the pin any more: it reads its pull resistor's level (a released button reads High with a pull-up).</summary>
    public void ReleaseInput(int pinNumber)
    {
        CheckRange(pinNumber);
        SetExternal(pinNumber, null);
    }

    protected override void OpenPin(int pinNumber)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            _open[pinNumber] = true;
            _mode[pinNumber] = PinMode.Input;
        }
    }

    protected override void ClosePin(int pinNumber)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            _open[pinNumber] = false;
            _callbacks.RemoveAll(c => c.Pin == pinNumber);
        }
    }

    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        CheckRange(pinNumber);
        if (!IsPinModeSupported(pinNumber, mode))
        {
            throw new NotSupportedException($"The simulated GPIO driver does not support pin mode {mode}.");
        }

        PinChangeEventHandler[]? toCall;
        PinEventTypes edge;
        lock (_lock)
        {
            PinValue before = LevelOf(pinNumber);
            _mode[pinNumber] = mode;
            toCall = CollectCallbacks(pinNumber, before, out edge);
        }

        Notify(pinNumber, toCall, edge);
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            return _mode[pinNumber];
        }
    }

    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Input or PinMode.Output or PinMode.InputPullUp or PinMode.InputPullDown;

    protected override PinValue Read(int pinNumber) => GetLevel(pinNumber);

    protected override void Write(int pinNumber, PinValue value)
    {
        CheckRange(pinNumber);
        PinChangeEventHandler[]? toCall;
        PinEventTypes edge;
        lock (_lock)
        {
            PinValue before = LevelOf(pinNumber);
            _output[pinNumber] = value;
            toCall = CollectCallbacks(pinNumber, before, out edge);
        }

        Notify(pinNumber, toCall, edge);
        OutputWritten?.Invoke(pinNumber, value);
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        using var signal = new ManualResetEventSlim();
        var seen = PinEventTypes.None;
        void OnChange(object sender, PinValueChangedEventArgs e)
        {
            seen = e.ChangeType;
            signal.Set();
        }

        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, OnChange);
        try
        {
            signal.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = seen, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            RemoveCallbackForPinValueChangedEvent(pinNumber, OnChange);
        }
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        CheckRange(pinNumber);
        ArgumentNullException.ThrowIfNull(callback);
        lock (_lock)
        {
            _callbacks.Add((pinNumber, eventTypes, callback));
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            _callbacks.RemoveAll(c => c.Pin == pinNumber && c.Handler == callback);
        }
    }

    protected override void Dispose(bool disposing)
    {
        lock (_lock)
        {
            _callbacks.Clear();
        }

        base.Dispose(disposing);
    }

    private void SetExternal(int pinNumber, PinValue? value)
    {
        PinChangeEventHandler[]? toCall;
        PinEventTypes edge;
        lock (_lock)
        {
            PinValue before = LevelOf(pinNumber);
            _driven[pinNumber] = value;
            toCall = CollectCallbacks(pinNumber, before, out edge);
        }

        Notify(pinNumber, toCall, edge);
    }

    // Called under the lock after a change: the handlers to run for the pin's level edge, if any.
    // Allocates only when the level changed and someone listens (a button edge, not an LED write).
    private PinChangeEventHandler[]? CollectCallbacks(int pinNumber, PinValue before, out PinEventTypes edge)
    {
        PinValue after = LevelOf(pinNumber);
        edge = PinEventTypes.None;
        if (before == after)
        {
            return null;
        }

        edge = after == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
        if (!EdgeEventsEnabled)
        {
            return null;
        }

        int count = 0;
        foreach (var c in _callbacks)
        {
            if (c.Pin == pinNumber && (c.Types & edge) != 0)
            {
                count++;
            }
        }

        if (count == 0)
        {
            return null;
        }

        var toCall = new PinChangeEventHandler[count];
        int i = 0;
        foreach (var c in _callbacks)
        {
            if (c.Pin == pinNumber && (c.Types & edge) != 0)
            {
                toCall[i++] = c.Handler;
            }
        }

        return toCall;
    }

    // Outside the lock, so a handler may read the pin or drive another one.
    private void Notify(int pinNumber, PinChangeEventHandler[]? toCall, PinEventTypes edge)
    {
        if (toCall is null)
        {
            return;
        }

        var args = new PinValueChangedEventArgs(edge, pinNumber);
        foreach (var handler in toCall)
        {
            handler(this, args);
        }
    }

    private PinValue LevelOf(int pin)
    {
        if (_mode[pin] == PinMode.Output)
        {
            return _output[pin];
        }

        if (_driven[pin] is PinValue driven)
        {
            return driven;
        }

        // A floating input reads Low here; real floating pins read noise, which no test wants.
        return _mode[pin] == PinMode.InputPullUp ? PinValue.High : PinValue.Low;
    }

    private static void CheckRange(int pinNumber)
    {
        if ((uint)pinNumber >= SimulatedPinCount)
        {
            throw new ArgumentOutOfRangeException(nameof(pinNumber), pinNumber,
                $"The simulated GPIO chip has pins 0-{SimulatedPinCount - 1}.");
        }
    }
}

using System.Device.Gpio;
using EdgeKws.Device.Configuration;

namespace EdgeKws.Device.Gpio;

/// <summary>
/// The device's front panel: the status LED and the button on one controller, ticked together,
/// with the button mapped to agent actions.
/// </summary>
/// <remarks>
/// <para><b>Button mapping</b> (as proposed in hardware/raspberry-pi/profile.md):
/// short press toggles mute (privacy: the agent stops reading the microphone while
/// <see cref="IsMuted"/>; the LED goes steady on); long press (hold 3 s) asks for enrollment
/// mode (<see cref="EnrollmentRequested"/>). Mute is on the short press because it is the
/// action people reach for quickly, as on smart speakers' microphone buttons; an accidental
/// toggle is visible at once on the LED and undone by another tap. Enrollment starts a
/// session, so it needs the deliberate hold.</para>
/// <para>Both pins -1: no controller is created, so a machine without GPIO runs the same code.</para>
/// <para>Threading: call <see cref="Tick"/> (or run <see cref="RunAsync"/>) from one thread;
/// events are raised there. The LED's condition setters may be called from any thread.</para>
/// </remarks>
public sealed class GpioPanel : IDisposable
{
    /// <summary>How often <see cref="RunAsync"/> ticks: well under the debounce (50 ms) and the shortest LED phase (50 ms).</summary>
    public static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(10);

    private readonly GpioController? _controller;
    private readonly bool _ownsController;
    private readonly TimeProvider _time;
    private bool _disposed;

    /// <param name="controller">Controller for the pins; null only when both pins are -1.</param>
    /// <param name="ownsController">Dispose <paramref name="controller"/> with the panel.</param>
    /// <param name="ledPin">Status LED GPIO, or -1.</param>
    /// <param name="buttonPin">Button GPIO, or -1.</param>
    /// <param name="time">Clock for patterns and button timings.</param>
    /// <param name="buttonOptions">Button timings; null for the defaults.</param>
    public GpioPanel(GpioController? controller, bool ownsController, int ledPin, int buttonPin, TimeProvider time, ButtonOptions? buttonOptions = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (ledPin >= 0 && ledPin == buttonPin)
        {
            throw new ArgumentException($"The status LED and the button cannot share GPIO {ledPin}.", nameof(buttonPin));
        }

        _controller = controller;
        _ownsController = ownsController;
        _time = time;
        try
        {
            Led = new StatusLed(controller, ledPin, time);
            Button = new PushButton(controller, buttonPin, time, buttonOptions);
        }
        catch
        {
            Led?.Dispose();
            if (ownsController)
            {
                controller?.Dispose();
            }

            throw;
        }

        Button.Gesture += OnGesture;
    }

    /// <summary>Raised (on the ticking thread) when a short press toggles mute; the argument is the new state.</summary>
    public event Action<bool>? MuteChanged;

    /// <summary>Raised (on the ticking thread) when the button is held for the long-press time.</summary>
    public event Action? EnrollmentRequested;

    /// <summary>The status LED.</summary>
    public StatusLed Led { get; }

    /// <summary>The button.</summary>
    public PushButton Button { get; }

    /// <summary>True while listening is muted by the button (or by <see cref="SetMuted"/>).</summary>
    public bool IsMuted => Led.Muted;

    /// <summary>Builds the panel from configuration; the panel owns the controller it creates.</summary>
    /// <exception cref="GpioUnavailableException">"gpiochip" was asked on a machine without GPIO (and a pin is enabled).</exception>
    public static GpioPanel Create(GpioConfig config, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        GpioController? controller = config.StatusLedPin < 0 && config.ButtonPin < 0
            ? null
            : GpioControllerFactory.Create(config);
        return new GpioPanel(controller, ownsController: true, config.StatusLedPin, config.ButtonPin, time);
    }

    /// <summary>Sets mute from elsewhere (CLI, remote command); raises <see cref="MuteChanged"/> if it changes.</summary>
    public void SetMuted(bool muted)
    {
        if (Led.Muted == muted)
        {
            return;
        }

        Led.Muted = muted;
        MuteChanged?.Invoke(muted);
    }

    /// <summary>One step: the button first (so a mute shows on the LED in the same tick), then the LED.</summary>
    public void Tick()
    {
        Button.Tick();
        Led.Tick();
    }

    /// <summary>Ticks every <see cref="TickPeriod"/> on the panel's clock until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TickPeriod, _time);
        try
        {
            Tick();
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                Tick();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping is the normal way out.
        }
    }

    /// <summary>Turns the LED off, releases the pins and disposes the controller if the panel owns it.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Button.Gesture -= OnGesture;
        Button.Dispose();
        Led.Dispose();
        if (_ownsController)
        {
            _controller?.Dispose();
        }
    }

    private void OnGesture(ButtonGesture gesture)
    {
        if (gesture == ButtonGesture.ShortPress)
        {
            SetMuted(!Led.Muted);
        }
        else if (gesture == ButtonGesture.LongPress)
        {
            EnrollmentRequested?.Invoke();
        }
    }
}

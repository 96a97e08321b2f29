namespace EdgeKws.Device.Gpio;

/// <summary>
/// What the status LED shows, lowest priority first: when several conditions hold at once the
/// LED shows the highest one (see <see cref="StatusLed"/> for why this order).
/// </summary>
public enum StatusIndication
{
    /// <summary>Agent not running its capture loop yet (or stopped): LED dark.</summary>
    Off = 0,
    /// <summary>Capturing and detecting normally.</summary>
    Listening,
    /// <summary>Broker unreachable: still listening, detections wait in the outbox.</summary>
    Offline,
    /// <summary>A keyword was detected just now (one-shot burst, then back to the state below).</summary>
    Detected,
    /// <summary>A model update (slot swap, health check) is in progress.</summary>
    Updating,
    /// <summary>The owner muted listening with the button: the microphone is not being read.</summary>
    Muted,
    /// <summary>The agent cannot work (no audio source, model rejected).</summary>
    Fatal,
}

/// <summary>
/// An on/off blink pattern measured from the moment it starts: on for <see cref="OnMs"/>, off
/// for <see cref="OffMs"/>, repeated <see cref="Repeats"/> times (0 = forever). A value type
/// with no state, so evaluating it allocates nothing.
/// </summary>
public readonly record struct BlinkPattern(int OnMs, int OffMs, int Repeats = 0)
{
    /// <summary>Never on.</summary>
    public static BlinkPattern Dark => new(0, 1);

    /// <summary>Always on.</summary>
    public static BlinkPattern Steady => new(1, 0);

    /// <summary>Length of one on+off cycle.</summary>
    public int PeriodMs => OnMs + OffMs;

    /// <summary>Whole length of a finite pattern; 0 for one that repeats forever.</summary>
    public int DurationMs => Repeats == 0 ? 0 : PeriodMs * Repeats;

    /// <summary>Whether the LED is lit <paramref name="elapsed"/> after the pattern started (dark after a finite pattern ends).</summary>
    public bool IsOnAt(TimeSpan elapsed)
    {
        if (OffMs == 0)
        {
            return OnMs > 0;
        }

        long ms = Math.Max(0L, (long)elapsed.TotalMilliseconds);
        if (Repeats > 0 && ms >= (long)DurationMs)
        {
            return false;
        }

        return ms % PeriodMs < OnMs;
    }
}

/// <summary>
/// The timing of each indication on one single-colour LED (the configuration has one
/// <c>Gpio.StatusLedPin</c>), so states differ by rhythm, not colour. Chosen to follow
/// hardware/raspberry-pi/profile.md's timings where one LED can show them.
/// </summary>
public static class StatusPatterns
{
    /// <summary>Listening: 1 s on / 4 s off, the profile's low-power heartbeat (steady on is taken by muted).</summary>
    public static readonly BlinkPattern Listening = new(1000, 4000);

    /// <summary>Offline: 100 ms flash every 2 s, as in the profile.</summary>
    public static readonly BlinkPattern Offline = new(100, 1900);

    /// <summary>
    /// Detected: three 50 ms flashes in 300 ms (the profile's 300 ms), then back to the state below.
    /// A burst instead of one long flash so it shows even while the heartbeat has the LED on.
    /// </summary>
    public static readonly BlinkPattern Detected = new(50, 50, Repeats: 3);

    /// <summary>Updating: 2 Hz blink (250 ms on / 250 ms off), as in the profile.</summary>
    public static readonly BlinkPattern Updating = new(250, 250);

    /// <summary>Muted: steady on, as in the profile (privacy state must be unmistakable).</summary>
    public static readonly BlinkPattern Muted = BlinkPattern.Steady;

    /// <summary>Fatal: 5 Hz blink (100 ms on / 100 ms off), as in the profile.</summary>
    public static readonly BlinkPattern Fatal = new(100, 100);

    /// <summary>The pattern of one indication.</summary>
    public static BlinkPattern For(StatusIndication indication) => indication switch
    {
        StatusIndication.Listening => Listening,
        StatusIndication.Offline => Offline,
        StatusIndication.Detected => Detected,
        StatusIndication.Updating => Updating,
        StatusIndication.Muted => Muted,
        StatusIndication.Fatal => Fatal,
        _ => BlinkPattern.Dark,
    };
}

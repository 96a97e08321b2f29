using System.Device.Gpio;
using EdgeKws.Device.Gpio;
using EdgeKws.Device.Tests.Testing;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.TestSupport;

namespace EdgeKws.Device.Tests.Gpio;

public sealed class StatusLed_Tests : IDisposable
{
    private const int LedPin = 17;
    private static readonly TimeSpan TickStep = TimeSpan.FromMilliseconds(10);

    private readonly ManualTimeProvider _time = new();
    private readonly SimulatedGpioDriver _driver = new();
    private readonly GpioController _controller;
    // Pre-sized so recording a write never allocates inside the zero-allocation test.
    private readonly List<(long Ms, bool High)> _writes = new(capacity: 4096);

    public StatusLed_Tests()
    {
        _controller = new GpioController(_driver);
        _driver.OutputWritten += (pin, value) =>
        {
            if (pin == LedPin)
            {
                _writes.Add(((long)_time.Elapsed.TotalMilliseconds, value == PinValue.High));
            }
        };
    }

    public void Dispose() => _controller.Dispose();

    [Fact]
    public void Listening_is_1_s_on_4_s_off()
    {
        using var led = NewLed();
        led.Listening = true;

        Run(led, 10_500);

        Assert.Equal([(0, true), (1000, false), (5000, true), (6000, false), (10_000, true)], _writes.ToArray());
    }

    [Fact]
    public void Offline_is_a_100_ms_flash_every_2_s()
    {
        using var led = NewLed();
        led.Listening = true;
        led.Offline = true;

        Run(led, 4_500);

        Assert.Equal([(0, true), (100, false), (2000, true), (2100, false), (4000, true), (4100, false)], _writes.ToArray());
    }

    [Fact]
    public void Updating_blinks_at_2_Hz()
    {
        using var led = NewLed();
        led.Updating = true;

        Run(led, 1_200);

        Assert.Equal([(0, true), (250, false), (500, true), (750, false), (1000, true)], _writes.ToArray());
    }

    [Fact]
    public void Fatal_blinks_at_5_Hz()
    {
        using var led = NewLed();
        led.Fatal = true;

        Run(led, 450);

        Assert.Equal([(0, true), (100, false), (200, true), (300, false), (400, true)], _writes.ToArray());
    }

    [Fact]
    public void Muted_is_steady_on_with_a_single_write()
    {
        using var led = NewLed();
        led.Muted = true;

        Run(led, 10_000);

        Assert.Equal([(0, true)], _writes.ToArray());
        Assert.Equal(PinValue.High, _driver.GetLevel(LedPin));
    }

    [Fact]
    public void Detection_flashes_three_times_in_the_dark_phase_then_listening_restarts()
    {
        using var led = NewLed();
        led.Listening = true;
        Run(led, 2_000);          // on 0-1000, dark since 1000
        led.SignalDetected();     // at 2000 ms

        Run(led, 1_500);

        Assert.Equal(
            [(0, true), (1000, false),
             (2000, true), (2050, false), (2100, true), (2150, false), (2200, true), (2250, false),
             (2300, true), (3300, false)],
            _writes.ToArray());
    }

    [Fact]
    public void Detection_is_visible_while_the_heartbeat_has_the_led_on()
    {
        using var led = NewLed();
        led.Listening = true;
        Run(led, 500);            // heartbeat on since 0
        led.SignalDetected();     // at 500 ms: the burst starts lit, so no write is needed then

        Run(led, 400);

        Assert.Equal([(0, true), (550, false), (600, true), (650, false), (700, true), (750, false), (800, true)], _writes.ToArray());
    }

    [Fact]
    public void A_new_detection_restarts_the_burst()
    {
        using var led = NewLed();
        led.Offline = true;
        Run(led, 500);
        led.SignalDetected();     // 500: burst to 800
        Run(led, 200);
        led.SignalDetected();     // 700: burst to 1000

        Run(led, 300);

        Assert.Equal(
            [(0, true), (100, false),
             (500, true), (550, false), (600, true), (650, false),
             (700, true), (750, false), (800, true), (850, false), (900, true), (950, false),
             (1000, true)],
            _writes.ToArray());
        Assert.Equal(StatusIndication.Offline, led.Current);
    }

    [Theory]
    [InlineData(true, true, true, true, true, true, StatusIndication.Fatal)]
    [InlineData(true, true, true, true, true, false, StatusIndication.Muted)]
    [InlineData(true, true, true, false, true, false, StatusIndication.Updating)]
    [InlineData(true, true, false, false, true, false, StatusIndication.Detected)]
    [InlineData(true, true, false, false, false, false, StatusIndication.Offline)]
    [InlineData(true, false, false, false, true, false, StatusIndication.Detected)]
    [InlineData(true, false, false, false, false, false, StatusIndication.Listening)]
    [InlineData(false, false, false, false, false, false, StatusIndication.Off)]
    [InlineData(false, false, false, true, true, false, StatusIndication.Muted)]
    public void Highest_priority_condition_is_shown(bool listening, bool offline, bool updating, bool muted, bool detected, bool fatal, StatusIndication expected)
    {
        using var led = NewLed();
        led.Listening = listening;
        led.Offline = offline;
        led.Updating = updating;
        led.Muted = muted;
        led.Fatal = fatal;
        if (detected)
        {
            led.SignalDetected();
        }

        Assert.Equal(expected, led.Current);
    }

    [Fact]
    public void Muted_hides_a_detection_burst_and_offline_returns_after_a_burst()
    {
        using var led = NewLed();
        led.Muted = true;
        led.SignalDetected();
        Run(led, 400);
        Assert.Equal([(0, true)], _writes.ToArray());

        led.Muted = false;
        led.Offline = true;
        led.SignalDetected(); // at 400
        Run(led, 400);

        Assert.Equal(StatusIndication.Offline, led.Current);
        // Burst 400-700 then offline restarts with its flash at 700.
        Assert.Equal([(0, true), (450, false), (500, true), (550, false), (600, true), (650, false), (700, true), (800, false)], _writes.ToArray());
    }

    [Fact]
    public void Active_low_led_is_lit_by_writing_low()
    {
        using var led = NewLed(activeHigh: false);
        Assert.Equal(PinValue.High, _driver.GetLevel(LedPin)); // opened dark
        led.Fatal = true;

        Run(led, 150);

        Assert.Equal([(0, false), (100, true)], _writes.ToArray());
    }

    [Fact]
    public void Dispose_turns_the_led_off_and_closes_the_pin()
    {
        var led = NewLed();
        led.Muted = true;
        led.Tick();
        Assert.Equal(PinValue.High, _driver.GetLevel(LedPin));

        led.Dispose();

        Assert.Equal(PinValue.Low, _driver.GetLevel(LedPin));
        Assert.False(_driver.IsOpen(LedPin));
    }

    [Fact]
    public void Disabled_pin_tracks_state_without_touching_gpio()
    {
        using var led = new StatusLed(null, -1, _time);
        led.Offline = true;

        Run(led, 3_000);

        Assert.False(led.IsEnabled);
        Assert.Equal(StatusIndication.Offline, led.Current);
        Assert.Empty(_writes);
        for (int pin = 0; pin < SimulatedGpioDriver.SimulatedPinCount; pin++)
        {
            Assert.False(_driver.IsOpen(pin));
        }
    }

    [Fact]
    public void Enabled_pin_without_a_controller_is_refused_with_the_pin_named()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => new StatusLed(null, 17, _time));
        Assert.Contains("GPIO 17", ex.Message);
    }

    [Fact]
    public void Tick_allocates_nothing_between_transitions()
    {
        StatusLed led = null!;
        int writesBefore = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                led?.Dispose();
                led = NewLed();
                led.Listening = true;
                Run(led, 100);    // lit; stays lit until 1000 ms
                writesBefore = _writes.Count;
            },
            measured: () =>
            {
                for (int i = 0; i < 80; i++)
                {
                    _time.Advance(TickStep);
                    led.Tick();
                }
            });
        using StatusLed lastLed = led;
        Assert.Equal(writesBefore, _writes.Count); // no transition inside the measured ticks
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Only_the_pin_write_allocates_on_a_transition()
    {
        using var led = NewLed();
        led.Fatal = true;
        Run(led, 100);
        long allocated = AllocationMeter.BytesAllocated(
            prepare: _writes.Clear,
            measured: () =>
            {
                for (int i = 0; i < 1000; i++)   // 10 s at 5 Hz: 100 transitions in 1000 ticks
                {
                    _time.Advance(TickStep);
                    led.Tick();
                }
            });
        Assert.Equal(100, _writes.Count);
        // System.Device.Gpio 4.2's GpioController.Write stores the value in a ConcurrentDictionary
        // (40 bytes a write here); anything per tick would show as >= 1000 x 24 bytes.
        Assert.InRange(allocated / _writes.Count, 0, 64);
    }

    // The LED opens its pin dark; that first write is dropped so _writes holds only what Tick wrote.
    private StatusLed NewLed(bool activeHigh = true)
    {
        var led = new StatusLed(_controller, LedPin, _time, activeHigh);
        _writes.Clear();
        return led;
    }

    // Ticks at the current time, then every 10 ms for durationMs (the last tick is at now + durationMs).
    private void Run(StatusLed led, int durationMs)
    {
        led.Tick();
        _time.Step(TimeSpan.FromMilliseconds(durationMs), TickStep, led.Tick);
    }

}

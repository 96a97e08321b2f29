using System.Device.Gpio;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.Gpio;
using EdgeKws.Device.Tests.Testing;

namespace EdgeKws.Device.Tests.Gpio;

public sealed class GpioPanel_Tests
{
    private const int LedPin = 17;
    private const int ButtonPin = 23;

    private readonly ManualTimeProvider _time = new();
    private readonly SimulatedGpioDriver _driver = new();

    [Fact]
    public void Short_press_toggles_mute_and_the_led_goes_steady()
    {
        using var panel = NewPanel();
        var changes = new List<bool>();
        panel.MuteChanged += changes.Add;
        panel.Led.Listening = true;
        Run(panel, 1500); // heartbeat: on 0-1000, dark after

        Tap(panel);
        Assert.True(panel.IsMuted);
        Assert.Equal(StatusIndication.Muted, panel.Led.Current);
        Run(panel, 3000);
        Assert.Equal(PinValue.High, _driver.GetLevel(LedPin)); // steady, even in the heartbeat's dark phase

        Tap(panel);

        Assert.False(panel.IsMuted);
        Assert.Equal([true, false], changes);
        Assert.Equal(StatusIndication.Listening, panel.Led.Current);
    }

    [Fact]
    public void Long_press_requests_enrollment_and_leaves_mute_alone()
    {
        using var panel = NewPanel();
        int requests = 0;
        panel.EnrollmentRequested += () => requests++;
        Run(panel, 100);

        _driver.DriveInput(ButtonPin, PinValue.Low);
        Run(panel, 3200);
        _driver.ReleaseInput(ButtonPin);
        Run(panel, 200);

        Assert.Equal(1, requests);
        Assert.False(panel.IsMuted);
    }

    [Fact]
    public void Same_pin_for_led_and_button_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new GpioPanel(new GpioController(_driver), ownsController: true, 17, 17, _time));
        Assert.Contains("GPIO 17", ex.Message);
    }

    [Fact]
    public void Both_pins_disabled_needs_no_gpio_even_when_gpiochip_is_configured()
    {
        // This machine has no /dev/gpiochip*; with both pins off the panel must not ask for one.
        var config = new GpioConfig { Driver = "gpiochip", StatusLedPin = -1, ButtonPin = -1 };

        using var panel = GpioPanel.Create(config, _time);
        panel.Led.Offline = true;
        panel.Tick();
        panel.SetMuted(true);
        panel.Tick();

        Assert.False(panel.Led.IsEnabled);
        Assert.False(panel.Button.IsEnabled);
        Assert.True(panel.IsMuted);
    }

    [Fact]
    public void Created_from_the_default_config_uses_the_profile_pins_on_the_simulated_chip()
    {
        var config = new GpioConfig();
        Assert.Equal("auto", config.Driver);   // the chip on a board (docs/decisions.md); the test runs the simulated one
        Assert.Equal(17, config.StatusLedPin); // hardware/raspberry-pi/profile.md: LED on BCM 17
        Assert.Equal(23, config.ButtonPin);    // button on BCM 23 to GND

        using var panel = GpioPanel.Create(new GpioConfig { Driver = "simulated", StatusLedPin = config.StatusLedPin, ButtonPin = config.ButtonPin }, _time);

        Assert.Equal(17, panel.Led.Pin);
        Assert.Equal(23, panel.Button.Pin);
    }

    [Fact]
    public async Task RunAsync_ticks_on_the_panel_clock_until_cancelled()
    {
        using var panel = NewPanel();
        panel.Led.Fatal = true; // 100 ms on / 100 ms off
        using var cts = new CancellationTokenSource();

        var run = panel.RunAsync(cts.Token);
        Assert.Equal(PinValue.High, _driver.GetLevel(LedPin)); // first tick is immediate
        for (int i = 0; i < 12; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        // The loop continues on the thread pool after each timer tick: wait for it to catch up.
        Assert.True(SpinWait.SpinUntil(() => _driver.GetLevel(LedPin) == PinValue.Low, TimeSpan.FromSeconds(60))); // liveness only
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(60)); // liveness only
        Assert.True(run.IsCompletedSuccessfully);
    }

    [Fact]
    public void Dispose_turns_the_led_off_and_frees_both_pins()
    {
        var panel = NewPanel();
        panel.Led.Muted = true;
        panel.Tick();

        panel.Dispose();

        Assert.Equal(PinValue.Low, _driver.GetLevel(LedPin));
        Assert.False(_driver.IsOpen(LedPin));
        Assert.False(_driver.IsOpen(ButtonPin));
    }

    private GpioPanel NewPanel() => new(new GpioController(_driver), ownsController: true, LedPin, ButtonPin, _time);

    private void Tap(GpioPanel panel)
    {
        _driver.DriveInput(ButtonPin, PinValue.Low);
        Run(panel, 200);
        _driver.ReleaseInput(ButtonPin);
        Run(panel, 100);
    }

    private void Run(GpioPanel panel, int durationMs) =>
        _time.Step(TimeSpan.FromMilliseconds(durationMs), TimeSpan.FromMilliseconds(10), panel.Tick);
}

using System.Device.Gpio;
using EdgeKws.Device.Gpio;
using EdgeKws.Device.Tests.Testing;

namespace EdgeKws.Device.Tests.Gpio;

public sealed class PushButton_Tests : IDisposable
{
    private const int ButtonPin = 23;

    private readonly ManualTimeProvider _time = new();
    private readonly SimulatedGpioDriver _driver = new();
    private readonly GpioController _controller;
    private readonly List<(long Ms, ButtonGesture Gesture)> _gestures = [];

    public PushButton_Tests() => _controller = new GpioController(_driver);

    public void Dispose() => _controller.Dispose();

    [Fact]
    public void Opens_the_pin_as_input_with_pull_up_and_reads_released()
    {
        using var button = NewButton();

        Assert.Equal(PinMode.InputPullUp, _controller.GetPinMode(ButtonPin));
        Assert.Equal(PinValue.High, _controller.Read(ButtonPin));
        Ticks(button, 100);
        Assert.False(button.IsPressed);
        Assert.Empty(_gestures);
    }

    [Fact]
    public void Short_press_is_reported_once_after_release()
    {
        using var button = NewButton();
        Ticks(button, 100);

        Press();                   // 100
        Ticks(button, 200);
        Assert.True(button.IsPressed);
        Assert.Empty(_gestures);   // nothing while held
        Release();                 // 300
        Ticks(button, 500);

        Assert.Equal([(350L, ButtonGesture.ShortPress)], _gestures);
        Assert.False(button.IsPressed);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(30)]
    [InlineData(45)]
    public void Glitch_shorter_than_the_debounce_time_is_not_a_press(int glitchMs)
    {
        using var button = NewButton();
        Ticks(button, 100);

        Press();
        bool everPressed = false;
        _time.Step(TimeSpan.FromMilliseconds(glitchMs), TimeSpan.FromMilliseconds(1), () =>
        {
            button.Tick();
            everPressed |= button.IsPressed;
        });
        Release();
        _time.Step(TimeSpan.FromMilliseconds(2000), TimeSpan.FromMilliseconds(1), () =>
        {
            button.Tick();
            everPressed |= button.IsPressed;
        });

        Assert.False(everPressed);
        Assert.Empty(_gestures);
    }

    [Fact]
    public void Contact_bounce_on_press_and_release_gives_one_short_press()
    {
        using var button = NewButton();
        Ticks(button, 100);

        // Press at 100 with contacts bouncing 2-8 ms (between or across the 10 ms ticks), then held; the same on release.
        Bounce(button, [3, 5, 8, 4, 6, 3, 7]);        // ends Low (pressed) after an odd count of edges
        Ticks(button, 300);
        Assert.True(button.IsPressed);
        Bounce(button, [4, 2, 6, 5, 3]);              // release: ends High
        Ticks(button, 500);

        Assert.Single(_gestures);
        Assert.Equal(ButtonGesture.ShortPress, _gestures[0].Gesture);
        Assert.False(button.IsPressed);
    }

    [Fact]
    public void Press_just_longer_than_the_debounce_time_counts()
    {
        using var button = NewButton();
        Ticks(button, 100);

        Press();
        Ticks(button, 60, stepMs: 1);
        Release();
        Ticks(button, 200, stepMs: 1);

        Assert.Equal([(210L, ButtonGesture.ShortPress)], _gestures); // release at 160, stable at 210
    }

    [Fact]
    public void Long_press_is_reported_while_held_and_release_adds_nothing()
    {
        using var button = NewButton();
        Ticks(button, 100);

        Press();                   // 100
        Ticks(button, 3500);
        Assert.Equal([(3100L, ButtonGesture.LongPress)], _gestures);
        Release();
        Ticks(button, 500);

        Assert.Equal([(3100L, ButtonGesture.LongPress)], _gestures);
    }

    [Fact]
    public void Hold_between_short_and_long_is_ignored()
    {
        using var button = NewButton();
        Ticks(button, 100);

        Press();
        Ticks(button, 2000);
        Release();
        Ticks(button, 500);

        Assert.Empty(_gestures);
    }

    [Fact]
    public void Custom_timings_are_honoured()
    {
        using var button = NewButton(new ButtonOptions { DebounceMs = 20, ShortPressMaxMs = 300, LongPressMs = 600 });
        Ticks(button, 100);

        Press();
        Ticks(button, 250);
        Release();                 // 350: a 250 ms press
        Ticks(button, 100);
        Press();                   // 450
        Ticks(button, 700);
        Release();
        Ticks(button, 100);

        Assert.Equal([(370L, ButtonGesture.ShortPress), (1050L, ButtonGesture.LongPress)], _gestures);
    }

    [Fact]
    public void Change_seen_by_reading_the_pin_counts_even_without_an_edge_event()
    {
        using var button = NewButton();
        Ticks(button, 100);
        _driver.EdgeEventsEnabled = false; // as when a driver's event queue overflows
        Press();                           // 100, but the button first sees it at its 110 ms tick

        Ticks(button, 3200);

        Assert.Equal([(3110L, ButtonGesture.LongPress)], _gestures); // first seen at the 110 ms tick
    }

    [Fact]
    public void Inconsistent_timings_are_refused_naming_them()
    {
        var ex = Assert.Throws<ArgumentException>(() => NewButton(new ButtonOptions { DebounceMs = 50, ShortPressMaxMs = 2000, LongPressMs = 1000 }));
        Assert.Contains("LongPressMs", ex.Message);
    }

    [Fact]
    public void Disabled_pin_never_reports_and_opens_nothing()
    {
        using var button = new PushButton(null, -1, _time);
        button.Gesture += g => _gestures.Add(((long)_time.Elapsed.TotalMilliseconds, g));

        Ticks(button, 5000);

        Assert.False(button.IsEnabled);
        Assert.False(button.IsPressed);
        Assert.Empty(_gestures);
        Assert.False(_driver.IsOpen(ButtonPin));
    }

    [Fact]
    public void Dispose_releases_the_pin_and_stops_listening()
    {
        var button = NewButton();
        button.Dispose();

        Assert.False(_driver.IsOpen(ButtonPin));
        Assert.Throws<ObjectDisposedException>(button.Tick);
    }

    private PushButton NewButton(ButtonOptions? options = null)
    {
        var button = new PushButton(_controller, ButtonPin, _time, options);
        button.Gesture += g => _gestures.Add(((long)_time.Elapsed.TotalMilliseconds, g));
        return button;
    }

    private void Press() => _driver.DriveInput(ButtonPin, PinValue.Low);

    private void Release() => _driver.ReleaseInput(ButtonPin);

    // Alternates press/release starting with a press, waiting the given ms after each edge (ticking every ms).
    private void Bounce(PushButton button, int[] gapsMs)
    {
        bool pressed = button.IsPressed;
        foreach (int gap in gapsMs)
        {
            pressed = !pressed;
            if (pressed)
            {
                Press();
            }
            else
            {
                Release();
            }

            Ticks(button, gap, stepMs: 1);
        }
    }

    private void Ticks(PushButton button, int durationMs, int stepMs = 10) =>
        _time.Step(TimeSpan.FromMilliseconds(durationMs), TimeSpan.FromMilliseconds(stepMs), button.Tick);
}

using System.Device.Gpio;
using EdgeKws.Device.Gpio;

namespace EdgeKws.Device.Tests.Gpio;

public sealed class SimulatedGpioDriver_Tests
{
    [Fact]
    public void Inputs_read_their_pull_level_until_driven()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        controller.OpenPin(1, PinMode.InputPullUp);
        controller.OpenPin(2, PinMode.InputPullDown);

        Assert.Equal(PinValue.High, controller.Read(1));
        Assert.Equal(PinValue.Low, controller.Read(2));
        driver.DriveInput(1, PinValue.Low);
        driver.DriveInput(2, PinValue.High);
        Assert.Equal(PinValue.Low, controller.Read(1));
        Assert.Equal(PinValue.High, controller.Read(2));
        driver.ReleaseInput(1);
        Assert.Equal(PinValue.High, controller.Read(1));
    }

    [Fact]
    public void Callbacks_see_falling_and_rising_edges_only_when_the_level_changes()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        controller.OpenPin(23, PinMode.InputPullUp);
        var seen = new List<PinEventTypes>();
        controller.RegisterCallbackForPinValueChangedEvent(23, PinEventTypes.Rising | PinEventTypes.Falling, (_, e) => seen.Add(e.ChangeType));
        var fallingOnly = new List<PinEventTypes>();
        controller.RegisterCallbackForPinValueChangedEvent(23, PinEventTypes.Falling, (_, e) => fallingOnly.Add(e.ChangeType));

        driver.DriveInput(23, PinValue.Low);
        driver.DriveInput(23, PinValue.Low); // no change, no event
        driver.ReleaseInput(23);

        Assert.Equal([PinEventTypes.Falling, PinEventTypes.Rising], seen);
        Assert.Equal([PinEventTypes.Falling], fallingOnly);
    }

    [Fact]
    public void WaitForEvent_returns_the_edge_or_times_out()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        controller.OpenPin(4, PinMode.InputPullUp);

        var timedOut = controller.WaitForEvent(4, PinEventTypes.Falling, TimeSpan.FromMilliseconds(20));
        Assert.True(timedOut.TimedOut);

        // A press every 50 ms until the wait has seen one: a single press at 50 ms could come before this thread (late on a
        // loaded machine) has started waiting, and the wait would then time out on a driver that works.
        using var pressLater = new Timer(_ =>
        {
            driver.DriveInput(4, PinValue.High);
            driver.DriveInput(4, PinValue.Low);
        }, null, 50, 50);
        var result = controller.WaitForEvent(4, PinEventTypes.Falling, TimeSpan.FromSeconds(10));
        Assert.False(result.TimedOut);
        Assert.Equal(PinEventTypes.Falling, result.EventTypes);
    }

    [Fact]
    public void Outputs_report_every_write()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        var writes = new List<(int, PinValue)>();
        driver.OutputWritten += (pin, value) => writes.Add((pin, value));
        controller.OpenPin(17, PinMode.Output);

        controller.Write(17, PinValue.High);
        controller.Write(17, PinValue.High);
        controller.Write(17, PinValue.Low);

        Assert.Equal([(17, PinValue.High), (17, PinValue.High), (17, PinValue.Low)], writes);
        Assert.Equal(PinValue.Low, driver.GetLevel(17));
    }

    [Fact]
    public void Pins_outside_the_chip_are_refused_with_the_range()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);

        var ex = Assert.ThrowsAny<ArgumentException>(() => controller.OpenPin(54, PinMode.Output));
        Assert.Contains("0-53", ex.Message);
    }
}

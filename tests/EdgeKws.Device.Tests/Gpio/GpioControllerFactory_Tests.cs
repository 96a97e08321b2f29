using System.Device.Gpio;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.Gpio;

namespace EdgeKws.Device.Tests.Gpio;

public sealed class GpioControllerFactory_Tests
{
    [Theory]
    [InlineData("simulated")]
    [InlineData("Simulated")]
    public void Simulated_driver_gives_a_working_controller(string driver)
    {
        using var controller = GpioControllerFactory.Create(new GpioConfig { Driver = driver });

        controller.OpenPin(5, PinMode.Output);
        controller.Write(5, PinValue.High);
        Assert.Equal(PinValue.High, controller.Read(5));
        controller.OpenPin(6, PinMode.InputPullUp);
        Assert.Equal(PinValue.High, controller.Read(6));
    }

    [Fact]
    public void Gpiochip_on_a_machine_without_gpiochip_devices_says_so_and_how_to_fix_it()
    {
        string dev = Directory.CreateTempSubdirectory("edgekws-dev-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dev, "null"), ""); // a /dev with other things but no gpiochip

            var ex = Assert.Throws<GpioUnavailableException>(() =>
                GpioControllerFactory.Create(new GpioConfig { Driver = "gpiochip" }, dev));

            Assert.Contains($"{dev}/gpiochip*", ex.Message);
            Assert.Contains("Gpio.Driver", ex.Message);
            Assert.Contains("\"simulated\"", ex.Message);
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }

    [Fact]
    public void Gpiochip_through_the_public_entry_point_fails_clearly_where_dev_has_no_chip()
    {
        if (Directory.EnumerateFileSystemEntries("/dev", "gpiochip*").Any())
        {
            return; // a real board: the other tests cover the error path
        }

        var ex = Assert.Throws<GpioUnavailableException>(() => GpioControllerFactory.Create(new GpioConfig { Driver = "gpiochip" }));
        Assert.Contains("/dev/gpiochip*", ex.Message);
    }

    [Fact]
    public void Auto_takes_the_gpio_chip_when_the_machine_has_one()
    {
        string dev = Directory.CreateTempSubdirectory("edgekws-dev-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dev, "gpiochip0"), "");
            GpioDriverChoice choice = GpioControllerFactory.Resolve(new GpioConfig(), dev, Path.Combine(dev, "no-device-tree"));
            Assert.Equal(GpioControllerFactory.GpioChipDriver, choice.Driver);
            Assert.Equal($"auto: {dev}/gpiochip0 found", choice.Reason);
            Assert.Null(choice.Warning);
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }

    [Fact]
    public void Auto_refuses_to_simulate_the_mute_button_on_a_board_that_shows_no_gpio_chip()
    {
        string dev = Directory.CreateTempSubdirectory("edgekws-dev-").FullName;
        try
        {
            string model = Path.Combine(dev, "model");
            File.WriteAllText(model, "Raspberry Pi 4 Model B Rev 1.5\0");
            var ex = Assert.Throws<GpioUnavailableException>(() => GpioControllerFactory.Resolve(new GpioConfig { Driver = "auto" }, dev, model));
            Assert.Contains("Raspberry Pi 4 Model B Rev 1.5", ex.Message);
            Assert.Contains("privacy control", ex.Message);
            Assert.Contains("DeviceAllow=char-gpiochip", ex.Message);
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }

    [Fact]
    public void Auto_simulates_on_a_machine_that_is_not_a_board_and_says_why()
    {
        string dev = Directory.CreateTempSubdirectory("edgekws-dev-").FullName;
        try
        {
            GpioDriverChoice choice = GpioControllerFactory.Resolve(new GpioConfig(), dev, Path.Combine(dev, "no-device-tree"));
            Assert.Equal(GpioControllerFactory.SimulatedDriver, choice.Driver);
            Assert.Equal($"auto: no {dev}/gpiochip* and no device tree, not a board", choice.Reason);
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }

    [Fact]
    public void Simulated_on_a_machine_with_a_gpio_chip_comes_with_a_warning()
    {
        string dev = Directory.CreateTempSubdirectory("edgekws-dev-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dev, "gpiochip0"), "");
            GpioDriverChoice choice = GpioControllerFactory.Resolve(new GpioConfig { Driver = "simulated" }, dev, Path.Combine(dev, "none"));
            Assert.Equal(GpioControllerFactory.SimulatedDriver, choice.Driver);
            Assert.Contains("the mute button does nothing", choice.Warning);
        }
        finally
        {
            Directory.Delete(dev, recursive: true);
        }
    }

    [Fact]
    public void Unknown_driver_is_refused_naming_it_and_the_choices()
    {
        var ex = Assert.Throws<ArgumentException>(() => GpioControllerFactory.Create(new GpioConfig { Driver = "wiringpi" }));

        Assert.Contains("'wiringpi'", ex.Message);
        Assert.Contains("gpiochip", ex.Message);
        Assert.Contains("simulated", ex.Message);
    }
}

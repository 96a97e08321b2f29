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
    public void Unknown_driver_is_refused_naming_it_and_the_choices()
    {
        var ex = Assert.Throws<ArgumentException>(() => GpioControllerFactory.Create(new GpioConfig { Driver = "wiringpi" }));

        Assert.Contains("'wiringpi'", ex.Message);
        Assert.Contains("gpiochip", ex.Message);
        Assert.Contains("simulated", ex.Message);
    }
}

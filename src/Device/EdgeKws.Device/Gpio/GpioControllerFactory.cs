using System.Device.Gpio;
using EdgeKws.Device.Configuration;

namespace EdgeKws.Device.Gpio;

/// <summary>The configuration asks for GPIO hardware this machine does not have or cannot open.</summary>
public sealed class GpioUnavailableException : Exception
{
    /// <summary>Creates the exception with a message naming the setting and the fix.</summary>
    public GpioUnavailableException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}

/// <summary>
/// Builds the <see cref="GpioController"/> that <see cref="GpioConfig.Driver"/> names:
/// "gpiochip" = the board's GPIO character device (System.Device.Gpio picks libgpiod, or sysfs
/// where libgpiod is missing), "simulated" = <see cref="SimulatedGpioDriver"/>. The caller owns
/// and disposes the controller.
/// </summary>
public static class GpioControllerFactory
{
    /// <summary>Driver name for the board's GPIO chip.</summary>
    public const string GpioChipDriver = "gpiochip";

    /// <summary>Driver name for the in-memory chip.</summary>
    public const string SimulatedDriver = "simulated";

    /// <summary>Creates the controller for <paramref name="config"/>.</summary>
    /// <exception cref="GpioUnavailableException">"gpiochip" was asked but there is no /dev/gpiochip* or no driver could open it.</exception>
    /// <exception cref="ArgumentException">The driver name is neither "gpiochip" nor "simulated".</exception>
    public static GpioController Create(GpioConfig config) => Create(config, "/dev");

    /// <summary>As <see cref="Create(GpioConfig)"/>, looking for gpiochip devices in <paramref name="deviceDirectory"/> (tests).</summary>
    internal static GpioController Create(GpioConfig config, string deviceDirectory)
    {
        ArgumentNullException.ThrowIfNull(config);
        string driver = (config.Driver ?? "").Trim().ToLowerInvariant();
        switch (driver)
        {
            case SimulatedDriver:
                return new GpioController(new SimulatedGpioDriver());

            case GpioChipDriver:
                if (!HasGpioChip(deviceDirectory))
                {
                    throw new GpioUnavailableException(
                        $"Gpio.Driver is \"gpiochip\" but this machine has no GPIO character device ({deviceDirectory}/gpiochip* not found). " +
                        "On a Raspberry Pi check that the kernel exposes /dev/gpiochip0 (gpiodetect lists chips); on a machine without GPIO " +
                        "set Gpio.Driver to \"simulated\" or disable the pins (Gpio.StatusLedPin = -1, Gpio.ButtonPin = -1).");
                }

                try
                {
                    return new GpioController();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    throw new GpioUnavailableException(
                        $"Gpio.Driver is \"gpiochip\" but no GPIO driver could open the chip: {ex.Message} " +
                        "Check that the agent's user is in the 'gpio' group (access to /dev/gpiochip*) and that libgpiod is installed.", ex);
                }

            default:
                throw new ArgumentException(
                    $"Gpio.Driver '{config.Driver}' is not known: use \"gpiochip\" (a board) or \"simulated\" (tests, machines without GPIO).",
                    nameof(config));
        }
    }

    private static bool HasGpioChip(string deviceDirectory)
    {
        try
        {
            return Directory.Exists(deviceDirectory)
                && Directory.EnumerateFileSystemEntries(deviceDirectory, "gpiochip*").Any();
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

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

/// <summary>Which driver runs the panel, and why (for the agent's start line).</summary>
/// <param name="Driver"><see cref="GpioControllerFactory.GpioChipDriver"/> or <see cref="GpioControllerFactory.SimulatedDriver"/>.</param>
/// <param name="Reason">How it was chosen, in words.</param>
/// <param name="Warning">Set when the choice leaves a real button unconnected on a machine that has GPIO.</param>
public sealed record GpioDriverChoice(string Driver, string Reason, string? Warning);

/// <summary>
/// Builds the <see cref="GpioController"/> that <see cref="GpioConfig.Driver"/> names:
/// "gpiochip" = the board's GPIO character device (System.Device.Gpio picks libgpiod, or sysfs
/// where libgpiod is missing), "simulated" = <see cref="SimulatedGpioDriver"/>, "auto" (the default) = see
/// <see cref="Resolve(GpioConfig)"/>. The caller owns and disposes the controller.
/// </summary>
/// <remarks>
/// The mute button is a privacy control, so a board must never run it simulated without saying so: "auto" takes the
/// real chip whenever the machine has one, refuses to start on a machine that looks like a board (it has a device tree)
/// but shows no GPIO chip (a systemd unit or container that hides /dev/gpiochip*), and simulates only on machines that
/// are not boards (a PC, a CI runner). docs/decisions.md records the choice.
/// </remarks>
public static class GpioControllerFactory
{
    /// <summary>Driver name for the board's GPIO chip.</summary>
    public const string GpioChipDriver = "gpiochip";

    /// <summary>Driver name for the in-memory chip.</summary>
    public const string SimulatedDriver = "simulated";

    /// <summary>Driver name for "the chip when the machine has one" (the default).</summary>
    public const string AutoDriver = "auto";

    /// <summary>Decides the driver <paramref name="config"/> means on this machine.</summary>
    /// <exception cref="GpioUnavailableException">"auto" on a board (device tree present) without a visible GPIO chip.</exception>
    /// <exception cref="ArgumentException">An unknown driver name.</exception>
    public static GpioDriverChoice Resolve(GpioConfig config) => Resolve(config, "/dev", "/proc/device-tree/model");

    /// <summary>As <see cref="Resolve(GpioConfig)"/> with the device directory and device-tree model file given (tests).</summary>
    internal static GpioDriverChoice Resolve(GpioConfig config, string deviceDirectory, string deviceTreeModelPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        string driver = (config.Driver ?? "").Trim().ToLowerInvariant();
        string? chip = FirstGpioChip(deviceDirectory);
        switch (driver)
        {
            case GpioChipDriver:
                return new GpioDriverChoice(GpioChipDriver, "Gpio.Driver is \"gpiochip\"", null);
            case SimulatedDriver:
                return new GpioDriverChoice(SimulatedDriver, "Gpio.Driver is \"simulated\"", chip is null ? null
                    : $"this machine has {chip}, but Gpio.Driver is \"simulated\": the status LED stays dark and the mute button does nothing");
            case AutoDriver or "":
                if (chip is not null)
                {
                    return new GpioDriverChoice(GpioChipDriver, $"auto: {chip} found", null);
                }
                if (File.Exists(deviceTreeModelPath))
                {
                    string model = ReadModel(deviceTreeModelPath);
                    throw new GpioUnavailableException(
                        $"Gpio.Driver is \"auto\" on a board ({model}) that shows no GPIO chip ({deviceDirectory}/gpiochip* not found): the mute button, a " +
                        "privacy control, would not work. Give the agent the chip (the systemd unit's DeviceAllow=char-gpiochip, a container's " +
                        "--device /dev/gpiochip0), or set Gpio.Driver to \"simulated\" (no panel) or disable the pins (Gpio.StatusLedPin = -1, Gpio.ButtonPin = -1).");
                }
                return new GpioDriverChoice(SimulatedDriver, $"auto: no {deviceDirectory}/gpiochip* and no device tree, not a board", null);
            default:
                throw new ArgumentException(
                    $"Gpio.Driver '{config.Driver}' is not known: use \"auto\" (the default), \"gpiochip\" (a board) or \"simulated\" (tests, machines without GPIO).",
                    nameof(config));
        }
    }

    /// <summary>Creates the controller for <paramref name="config"/> ("auto" resolved by <see cref="Resolve(GpioConfig)"/>).</summary>
    /// <exception cref="GpioUnavailableException">"gpiochip" was asked (or chosen) but there is no /dev/gpiochip* or no driver could open it.</exception>
    /// <exception cref="ArgumentException">The driver name is not "auto", "gpiochip" or "simulated".</exception>
    public static GpioController Create(GpioConfig config) => Create(config, "/dev");

    /// <summary>As <see cref="Create(GpioConfig)"/>, looking for gpiochip devices in <paramref name="deviceDirectory"/> (tests).</summary>
    internal static GpioController Create(GpioConfig config, string deviceDirectory)
    {
        ArgumentNullException.ThrowIfNull(config);
        string driver = (config.Driver ?? "").Trim().ToLowerInvariant();
        if (driver is AutoDriver or "")
        {
            driver = Resolve(config, deviceDirectory, "/proc/device-tree/model").Driver;
        }
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
                    $"Gpio.Driver '{config.Driver}' is not known: use \"auto\" (the default), \"gpiochip\" (a board) or \"simulated\" (tests, machines without GPIO).",
                    nameof(config));
        }
    }

    private static bool HasGpioChip(string deviceDirectory) => FirstGpioChip(deviceDirectory) is not null;

    private static string? FirstGpioChip(string deviceDirectory)
    {
        try
        {
            return Directory.Exists(deviceDirectory)
                ? Directory.EnumerateFileSystemEntries(deviceDirectory, "gpiochip*").Order(StringComparer.Ordinal).FirstOrDefault()
                : null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string ReadModel(string path)
    {
        try
        {
            return File.ReadAllText(path).TrimEnd('\0', '\n', ' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "device tree present";
        }
    }
}

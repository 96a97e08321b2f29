using System.Collections;
using System.Globalization;
using System.Text.Json;

namespace EdgeKws.Device.Configuration;

/// <summary>
/// Loads <see cref="AgentConfig"/> from one JSON file, applies environment overrides and validates
/// it. Any problem stops the agent at start with a message naming the key and the reason.
/// </summary>
/// <remarks>
/// Overrides are environment variables <c>EDGEKWS_&lt;Key&gt;</c> with <c>__</c> between sections,
/// matched case-insensitively: <c>EDGEKWS_Mqtt__Host=broker.lan</c>, <c>EDGEKWS_DeviceId=kitchen-1</c>.
/// The set of keys is written out by hand below (no reflection), so the loader stays AOT-clean and an
/// unknown override is an error instead of a silent no-op.
/// </remarks>
public static class AgentConfigLoader
{
    public const string EnvironmentPrefix = "EDGEKWS_";

    /// <summary>Loads, overrides and validates; returns false with every problem found.</summary>
    public static bool TryLoad(string? jsonPath, IDictionary environment, out AgentConfig config, out IReadOnlyList<string> errors)
    {
        var problems = new List<string>();
        config = new AgentConfig();
        if (jsonPath is not null)
        {
            try
            {
                using var stream = File.OpenRead(jsonPath);
                config = JsonSerializer.Deserialize(stream, AgentConfigJsonContext.Default.AgentConfig)
                         ?? throw new JsonException("the file holds 'null'");
            }
            catch (FileNotFoundException)
            {
                problems.Add($"config file '{jsonPath}': not found");
            }
            catch (JsonException e)
            {
                // System.Text.Json names the JSON path (e.g. $.Mqtt.Port) and line in its message.
                problems.Add($"config file '{jsonPath}': {e.Message}");
            }
        }

        if (problems.Count == 0)
        {
            ApplyEnvironment(config, environment, problems);
            Validate(config, problems);
        }
        errors = problems;
        return problems.Count == 0;
    }

    private static void ApplyEnvironment(AgentConfig c, IDictionary environment, List<string> problems)
    {
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is not string name || !name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                continue;
            string key = name[EnvironmentPrefix.Length..].Replace("__", ".", StringComparison.Ordinal);
            string value = entry.Value as string ?? "";
            if (!TrySet(c, key, value, out string? error))
                problems.Add($"{key} (from environment {name}): {error}");
        }
    }

    private static bool TrySet(AgentConfig c, string key, string v, out string? error)
    {
        error = null;
        switch (key.ToUpperInvariant())
        {
            case "DEVICEID": c.DeviceId = v; return true;
            case "STATEDIRECTORY": c.StateDirectory = v; return true;
            case "AUDIO.SOURCE": c.Audio.Source = v; return true;
            case "AUDIO.ALSADEVICE": c.Audio.AlsaDevice = v; return true;
            case "AUDIO.PERIODFRAMES": return TryInt(v, x => c.Audio.PeriodFrames = x, out error);
            case "AUDIO.BUFFERPERIODS": return TryInt(v, x => c.Audio.BufferPeriods = x, out error);
            case "AUDIO.WAVPATH": c.Audio.WavPath = v; return true;
            case "AUDIO.REALTIME": return TryBool(v, x => c.Audio.RealTime = x, out error);
            case "DETECTION.MODELBUDGETBYTES": return TryInt(v, x => c.Detection.ModelBudgetBytes = x, out error);
            case "DETECTION.PRETRIGGERMS": return TryInt(v, x => c.Detection.PreTriggerMs = x, out error);
            case "DETECTION.POSTTRIGGERMS": return TryInt(v, x => c.Detection.PostTriggerMs = x, out error);
            case "OUTBOX.QUOTABYTES": return TryLong(v, x => c.Outbox.QuotaBytes = x, out error);
            case "OUTBOX.TTLHOURS": return TryInt(v, x => c.Outbox.TtlHours = x, out error);
            case "MQTT.HOST": c.Mqtt.Host = v; return true;
            case "MQTT.PORT": return TryInt(v, x => c.Mqtt.Port = x, out error);
            case "MQTT.USERNAME": c.Mqtt.Username = v; return true;
            case "MQTT.PASSWORD": c.Mqtt.Password = v; return true;
            case "MQTT.CACERTIFICATEPATH": c.Mqtt.CaCertificatePath = v; return true;
            case "MQTT.CLIENTCERTIFICATEPATH": c.Mqtt.ClientCertificatePath = v; return true;
            case "MQTT.CLIENTKEYPATH": c.Mqtt.ClientKeyPath = v; return true;
            case "MQTT.HEARTBEATSECONDS": return TryInt(v, x => c.Mqtt.HeartbeatSeconds = x, out error);
            case "MQTT.MAXBACKOFFSECONDS": return TryInt(v, x => c.Mqtt.MaxBackoffSeconds = x, out error);
            case "PRIVACY.UPLOADRAWAUDIO": return TryBool(v, x => c.Privacy.UploadRawAudio = x, out error);
            case "GPIO.DRIVER": c.Gpio.Driver = v; return true;
            case "GPIO.STATUSLEDPIN": return TryInt(v, x => c.Gpio.StatusLedPin = x, out error);
            case "GPIO.BUTTONPIN": return TryInt(v, x => c.Gpio.ButtonPin = x, out error);
            case "MODELS.PUBLICKEYPATH": c.Models.PublicKeyPath = v; return true;
            case "NEARMISS.BANDFRACTION": return TryDouble(v, x => c.NearMiss.BandFraction = x, out error);
            case "NEARMISS.MAXPERHOUR": return TryInt(v, x => c.NearMiss.MaxPerHour = x, out error);
            default:
                error = "unknown key";
                return false;
        }
    }

    private static bool TryInt(string v, Action<int> set, out string? error)
    {
        error = null;
        if (int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x)) { set(x); return true; }
        error = $"'{v}' is not a whole number";
        return false;
    }

    private static bool TryLong(string v, Action<long> set, out string? error)
    {
        error = null;
        if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long x)) { set(x); return true; }
        error = $"'{v}' is not a whole number";
        return false;
    }

    private static bool TryDouble(string v, Action<double> set, out string? error)
    {
        error = null;
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)) { set(x); return true; }
        error = $"'{v}' is not a number";
        return false;
    }

    private static bool TryBool(string v, Action<bool> set, out string? error)
    {
        error = null;
        if (bool.TryParse(v, out bool x)) { set(x); return true; }
        if (v is "1" or "0") { set(v == "1"); return true; }
        error = $"'{v}' is not true/false";
        return false;
    }

    /// <summary>Checks ranges and combinations; each problem names its key.</summary>
    public static void Validate(AgentConfig c, List<string> problems)
    {
        void Check(bool ok, string key, string reason)
        {
            if (!ok) problems.Add($"{key}: {reason}");
        }

        Check(IsValidDeviceId(c.DeviceId), "DeviceId", $"'{c.DeviceId}' must be 1-64 characters of A-Z a-z 0-9 _ -");
        Check(!string.IsNullOrWhiteSpace(c.StateDirectory), "StateDirectory", "must not be empty");

        string source = c.Audio.Source.ToLowerInvariant();
        Check(source is "alsa" or "wav" or "stdin", "Audio.Source", $"'{c.Audio.Source}' must be one of alsa, wav, stdin");
        Check(source != "wav" || !string.IsNullOrEmpty(c.Audio.WavPath), "Audio.WavPath", "is required when Audio.Source is wav");
        Check(source != "wav" || string.IsNullOrEmpty(c.Audio.WavPath) || File.Exists(c.Audio.WavPath), "Audio.WavPath", $"file '{c.Audio.WavPath}' does not exist");
        Check(source != "alsa" || !string.IsNullOrWhiteSpace(c.Audio.AlsaDevice), "Audio.AlsaDevice", "must not be empty when Audio.Source is alsa");
        Check(c.Audio.PeriodFrames is >= 32 and <= 16000, "Audio.PeriodFrames", $"{c.Audio.PeriodFrames} must be between 32 and 16000 frames");
        Check(c.Audio.BufferPeriods is >= 2 and <= 64, "Audio.BufferPeriods", $"{c.Audio.BufferPeriods} must be between 2 and 64");

        Check(c.Detection.ModelBudgetBytes is > 0 and <= 16 * 1024 * 1024, "Detection.ModelBudgetBytes", $"{c.Detection.ModelBudgetBytes} must be between 1 and 16777216");
        Check(c.Detection.PreTriggerMs is >= 0 and <= 10_000, "Detection.PreTriggerMs", $"{c.Detection.PreTriggerMs} must be between 0 and 10000 ms");
        Check(c.Detection.PostTriggerMs is >= 0 and <= 5_000, "Detection.PostTriggerMs", $"{c.Detection.PostTriggerMs} must be between 0 and 5000 ms");

        Check(c.Outbox.QuotaBytes >= EdgeKws.Device.Outbox.OutboxOptions.MinQuotaBytes, "Outbox.QuotaBytes",
            $"{c.Outbox.QuotaBytes} must be at least {EdgeKws.Device.Outbox.OutboxOptions.MinQuotaBytes} bytes (the outbox's files on disk: database, write-ahead log and reserve)");
        Check(c.Outbox.TtlHours is >= 1 and <= 24 * 365, "Outbox.TtlHours", $"{c.Outbox.TtlHours} must be between 1 and 8760 hours");

        Check(!string.IsNullOrWhiteSpace(c.Mqtt.Host), "Mqtt.Host", "must not be empty");
        Check(c.Mqtt.Port is >= 1 and <= 65535, "Mqtt.Port", $"{c.Mqtt.Port} must be between 1 and 65535");
        Check(c.Mqtt.HeartbeatSeconds is >= 5 and <= 3600, "Mqtt.HeartbeatSeconds", $"{c.Mqtt.HeartbeatSeconds} must be between 5 and 3600 s");
        Check(c.Mqtt.MaxBackoffSeconds is >= 1 and <= 3600, "Mqtt.MaxBackoffSeconds", $"{c.Mqtt.MaxBackoffSeconds} must be between 1 and 3600 s");
        Check(c.Mqtt.Password is null || c.Mqtt.Username is not null, "Mqtt.Password", "is set but Mqtt.Username is not");
        Check((c.Mqtt.ClientCertificatePath is null) == (c.Mqtt.ClientKeyPath is null), "Mqtt.ClientKeyPath", "client certificate and key must be given together");
        foreach (var (key, path) in new[] { ("Mqtt.CaCertificatePath", c.Mqtt.CaCertificatePath), ("Mqtt.ClientCertificatePath", c.Mqtt.ClientCertificatePath), ("Mqtt.ClientKeyPath", c.Mqtt.ClientKeyPath) })
            Check(path is null || File.Exists(path), key, $"file '{path}' does not exist");

        string driver = c.Gpio.Driver.ToLowerInvariant();
        Check(driver is "auto" or "gpiochip" or "simulated", "Gpio.Driver", $"'{c.Gpio.Driver}' must be auto, gpiochip or simulated");
        Check(c.Gpio.StatusLedPin is >= -1 and <= 53, "Gpio.StatusLedPin", $"{c.Gpio.StatusLedPin} is not a BCM pin (0-53, -1 disables)");
        Check(c.Gpio.ButtonPin is >= -1 and <= 53, "Gpio.ButtonPin", $"{c.Gpio.ButtonPin} is not a BCM pin (0-53, -1 disables)");
        Check(c.Gpio.StatusLedPin < 0 || c.Gpio.StatusLedPin != c.Gpio.ButtonPin, "Gpio.ButtonPin", "must differ from Gpio.StatusLedPin");

        Check(c.NearMiss.BandFraction > 0 && c.NearMiss.BandFraction < 1, "NearMiss.BandFraction", $"{c.NearMiss.BandFraction} must be between 0 and 1 (exclusive)");
        Check(c.NearMiss.MaxPerHour is >= 0 and <= 3600, "NearMiss.MaxPerHour", $"{c.NearMiss.MaxPerHour} must be between 0 (off) and 3600");

        Check(c.Models.PublicKeyPath is null || (c.Models.PublicKeyPath.Length > 0 && File.Exists(c.Models.PublicKeyPath)), "Models.PublicKeyPath",
            $"file '{c.Models.PublicKeyPath}' does not exist (the pinned model-signing public key, PEM)");
    }

    /// <summary>Device ids go into MQTT topics and file names, so the alphabet is narrow.</summary>
    public static bool IsValidDeviceId(string id)
    {
        if (id.Length is 0 or > 64) return false;
        foreach (char ch in id)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-')) return false;
        return true;
    }
}

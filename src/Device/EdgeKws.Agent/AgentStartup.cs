using System.Collections;
using System.Diagnostics.CodeAnalysis;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.Gpio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Features;

namespace EdgeKws.Agent;

/// <summary>
/// The agent's start-up steps, each one a <c>TryX</c> that logs its own failure (the exit code says which kind:
/// <see cref="AgentHost.ExitBadConfiguration"/> for a setting, <see cref="AgentHost.ExitFailure"/> for the machine), and
/// what the configuration turns into (pipeline, outbox, uplink options, the audio source). A step that fails has
/// created nothing the caller must dispose.
/// </summary>
internal static class AgentStartup
{
    /// <summary>The configuration with the command line's overrides, validated as far as the pipeline goes. False: exit 2, every problem printed.</summary>
    public static bool TryLoadConfiguration(AgentArguments args, IDictionary environment, AgentLog log, [NotNullWhen(true)] out AgentConfig? config)
    {
        if (!AgentConfigLoader.TryLoad(args.ConfigPath, environment, out AgentConfig loaded, out IReadOnlyList<string> errors))
        {
            foreach (string e in errors)
            {
                log.ConfigurationError(e);
            }
            config = null;
            return false;
        }
        config = loaded;
        if (args.WavPath is not null)
        {
            if (!File.Exists(args.WavPath))
            {
                log.ConfigurationError($"--wav: file '{args.WavPath}' does not exist");
                return false;
            }
            config.Audio.Source = "wav";
            config.Audio.WavPath = args.WavPath;
        }
        if (args.Stdin) config.Audio.Source = "stdin";
        if (args.Fast) config.Audio.RealTime = false;

        try
        {
            PipelineOptions(config, MfccConfig.Default, null, null).Validate();
        }
        catch (ArgumentException ex)
        {
            log.ConfigurationError(ex.Message);
            return false;
        }
        return true;
    }

    /// <summary>Creates the state directory (exit 2 when it cannot) and opens the outbox in it (exit 1 when it cannot: locked by another
    /// process, I/O). Null: <paramref name="exitCode"/> says which, logged.</summary>
    public static OutboxStore? OpenOutbox(AgentConfig config, AgentLog log, out int exitCode)
    {
        OutboxStore outbox;
        try
        {
            Directory.CreateDirectory(config.StateDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.ConfigurationError($"StateDirectory: cannot create '{config.StateDirectory}': {ex.Message}");
            exitCode = AgentHost.ExitBadConfiguration;
            return null;
        }
        try
        {
            outbox = OutboxStore.Open(new OutboxOptions
            {
                DatabasePath = Path.Combine(config.StateDirectory, "outbox.db"),
                QuotaBytes = config.Outbox.QuotaBytes,
                TimeToLive = TimeToLive(config.Outbox.TtlHours),
                Log = log.Write,
            });
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            log.Write($"cannot open the outbox: {ex.Message}");
            exitCode = AgentHost.ExitFailure;
            return null;
        }
        if (outbox.CorruptionRecovery is { } recovery)
        {
            log.Write($"outbox was corrupt and was moved aside to {recovery.MovedAsidePath}: {recovery.Reason}");
        }
        exitCode = AgentHost.ExitOk;
        return outbox;
    }

    /// <summary>Bench only (<c>--latency-out --time-frontend</c>): times the front end and the model on the WAV before listening.</summary>
    public static bool TryTimeFrontEnd(LatencyRecorder recorder, AgentArguments args, AgentConfig config, MfccConfig mfcc, KeywordModel model,
        AgentLog log, out int exitCode)
    {
        if (!string.Equals(config.Audio.Source, "wav", StringComparison.OrdinalIgnoreCase) || config.Audio.WavPath is null)
        {
            log.ConfigurationError("--time-frontend needs a WAV source (--wav PATH or Audio.Source=wav)");
            exitCode = AgentHost.ExitBadConfiguration;
            return false;
        }
        try
        {
            recorder.TimeFrontEnd(config.Audio.WavPath, mfcc, model, config.Audio.PeriodFrames, args.TimeFrontEndSeconds);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or InvalidOperationException or ArgumentException)
        {
            log.Write($"--time-frontend failed: {ex.Message}");
            exitCode = AgentHost.ExitFailure;
            return false;
        }
        log.Write($"front end timed: {recorder.MfccFrameUs.Length} MFCC frames, {recorder.InferenceMs.Length} inferences");
        exitCode = AgentHost.ExitOk;
        return true;
    }

    /// <summary>The configured audio source (ALSA, WAV replay or stdin). Null: exit 1, logged.</summary>
    public static IAudioSource? OpenSource(AgentConfig config, AgentLog log)
    {
        try
        {
            return config.Audio.Source.ToLowerInvariant() switch
            {
                "wav" => new WavReplaySource(config.Audio.WavPath!, new WavReplayOptions { RealTime = config.Audio.RealTime }),
                "stdin" => StdinPcmSource.OpenStandardInput(),
                _ => new AlsaCaptureSource(new AlsaCaptureOptions
                {
                    DeviceName = config.Audio.AlsaDevice,
                    PeriodFrames = config.Audio.PeriodFrames,
                    BufferPeriods = config.Audio.BufferPeriods,
                }),
            };
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or AlsaException or UnauthorizedAccessException or InvalidDataException)
        {
            log.Write($"cannot open audio source '{config.Audio.Source}': {ex.Message}");
            return null;
        }
    }

    /// <summary>The MQTT uplink (not started). Null: exit 2 (<c>Mqtt: ...</c>, e.g. a certificate that does not load), logged.</summary>
    public static MqttUplink? CreateUplink(AgentConfig config, IOutboxQueue queue, AgentLog log)
    {
        MqttConfig m = config.Mqtt;
        bool tls = m.CaCertificatePath is not null || m.ClientCertificatePath is not null;
        var options = new MqttUplinkOptions
        {
            DeviceId = config.DeviceId,
            Host = m.Host,
            Port = m.Port,
            UseTls = tls,
            CaCertificatePemPath = m.CaCertificatePath,
            ClientCertificatePemPath = m.ClientCertificatePath,
            ClientKeyPemPath = m.ClientKeyPath,
            Username = m.Username,
            Password = m.Password,
            MaxBackoff = TimeSpan.FromSeconds(m.MaxBackoffSeconds),
        };
        try
        {
            return new MqttUplink(options, queue);
        }
        catch (Exception ex) when (ex is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            log.ConfigurationError($"Mqtt: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// The front panel (status LED, mute button). "auto" by default: the real chip on a board (the mute button is a
    /// privacy control), simulated only on machines that are not boards; the start line says which runs. Null: exit 2, logged.
    /// </summary>
    public static GpioPanel? OpenPanel(AgentConfig config, AgentLog log, out GpioDriverChoice? choice)
    {
        try
        {
            choice = GpioControllerFactory.Resolve(config.Gpio);
            return GpioPanel.Create(new GpioConfig { Driver = choice.Driver, StatusLedPin = config.Gpio.StatusLedPin, ButtonPin = config.Gpio.ButtonPin },
                TimeProvider.System);
        }
        catch (Exception ex) when (ex is GpioUnavailableException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            log.ConfigurationError($"Gpio.Driver: '{config.Gpio.Driver}': {ex.Message}");
            choice = null;
            return null;
        }
    }

    /// <summary>The panel's part of the start line: which driver runs and why, and what a simulated one means.</summary>
    public static string GpioStartText(GpioConfig config, GpioDriverChoice choice)
    {
        if (config.StatusLedPin < 0 && config.ButtonPin < 0)
        {
            return "gpio off (Gpio.StatusLedPin and Gpio.ButtonPin are -1: no LED, no mute button)";
        }
        string pins = $"LED pin {(config.StatusLedPin < 0 ? "off" : config.StatusLedPin)}, mute button pin {(config.ButtonPin < 0 ? "off" : config.ButtonPin)}";
        return choice.Driver == GpioControllerFactory.SimulatedDriver
            ? $"gpio driver simulated ({choice.Reason}; {pins}: the LED and the mute button are simulated, a real button does nothing)"
            : $"gpio driver gpiochip ({choice.Reason}; {pins})";
    }

    public static ListeningPipelineOptions PipelineOptions(AgentConfig config, MfccConfig mfcc, Action<string>? log,
        Action<OutboxMessageClass, EnqueueResult>? enqueued) => new()
        {
            DeviceId = config.DeviceId,
            Mfcc = mfcc,
            PreTriggerMs = config.Detection.PreTriggerMs,
            PostTriggerMs = config.Detection.PostTriggerMs,
            UploadRawAudio = config.Privacy.UploadRawAudio,
            NearMissBandFraction = config.NearMiss.BandFraction,
            NearMissMaxPerHour = config.NearMiss.MaxPerHour,
            HeartbeatInterval = TimeSpan.FromSeconds(config.Mqtt.HeartbeatSeconds),
            // As-fast-as-possible replay: heartbeats every N seconds of audio, so each one is a valid interval.
            HeartbeatClock = IsFastReplay(config) ? HeartbeatClock.Stream : HeartbeatClock.Wall,
            BlockSamples = config.Audio.PeriodFrames,
            Log = log,
            Enqueued = enqueued,
        };

    private static bool IsFastReplay(AgentConfig config) =>
        string.Equals(config.Audio.Source, "wav", StringComparison.OrdinalIgnoreCase) && !config.Audio.RealTime;

    /// <summary>Outbox.TtlHours caps every class's default time to live (the policy's per-class defaults stay below it).</summary>
    private static Dictionary<OutboxMessageClass, TimeSpan> TimeToLive(int ttlHours)
    {
        var cap = TimeSpan.FromHours(ttlHours);
        var ttl = new Dictionary<OutboxMessageClass, TimeSpan>();
        foreach (OutboxMessageClass c in OutboxPolicy.AllClasses)
        {
            TimeSpan d = OutboxPolicy.DefaultTimeToLive(c);
            ttl[c] = d < cap ? d : cap;
        }
        return ttl;
    }
}

using System.Collections;
using System.Diagnostics;
using System.Globalization;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.Gpio;
using EdgeKws.Device.Models;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Pipeline;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Features;

namespace EdgeKws.Agent;

/// <summary>
/// Wires the agent: configuration -> state directory -> outbox -> model -> audio source -> listening
/// pipeline (this thread) + MQTT uplink (its own task). Returns the process exit code.
/// </summary>
internal static class AgentHost
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitBadConfiguration = 2;
    public const int ExitModelRefused = 3;

    /// <summary>Hook for the status LED / button (the GPIO work plugs in here).</summary>
    public static IAgentStatusSink? StatusSink { get; set; }

    public static int Run(AgentArguments args, IDictionary environment, CancellationToken stop, TextWriter stdout, TextWriter stderr)
    {
        var wall = Stopwatch.StartNew();
        void Log(string message)
        {
            lock (stderr)
            {
                stderr.WriteLine($"edgekws-agent: {message}");
            }
        }

        // 1. Configuration: a bad value stops the agent here, naming the key and the reason.
        if (!AgentConfigLoader.TryLoad(args.ConfigPath, environment, out AgentConfig config, out IReadOnlyList<string> errors))
        {
            foreach (string e in errors)
            {
                stderr.WriteLine($"edgekws-agent: configuration error: {e}");
            }
            return ExitBadConfiguration;
        }
        if (args.WavPath is not null)
        {
            if (!File.Exists(args.WavPath))
            {
                stderr.WriteLine($"edgekws-agent: configuration error: --wav: file '{args.WavPath}' does not exist");
                return ExitBadConfiguration;
            }
            config.Audio.Source = "wav";
            config.Audio.WavPath = args.WavPath;
        }
        if (args.Stdin) config.Audio.Source = "stdin";
        if (args.Fast) config.Audio.RealTime = false;

        MfccConfig mfcc = MfccConfig.Default;
        var pipelineOptionsProbe = PipelineOptions(config, mfcc, null, null);
        try
        {
            pipelineOptionsProbe.Validate();
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine($"edgekws-agent: configuration error: {ex.Message}");
            return ExitBadConfiguration;
        }

        // 2. State directory and outbox.
        try
        {
            Directory.CreateDirectory(config.StateDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"edgekws-agent: configuration error: StateDirectory: cannot create '{config.StateDirectory}': {ex.Message}");
            return ExitBadConfiguration;
        }

        OutboxStore outbox;
        try
        {
            outbox = OutboxStore.Open(new OutboxOptions
            {
                DatabasePath = Path.Combine(config.StateDirectory, "outbox.db"),
                QuotaBytes = config.Outbox.QuotaBytes,
                TimeToLive = TimeToLive(config.Outbox.TtlHours),
                Log = Log,
            });
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Log($"cannot open the outbox: {ex.Message}");
            return ExitFailure;
        }
        using (outbox)
        {
            if (outbox.CorruptionRecovery is { } recovery)
            {
                Log($"outbox was corrupt and was moved aside to {recovery.MovedAsidePath}: {recovery.Reason}");
            }

            // 3. Model: from the A/B slots when a model-signing key is pinned (model updates on), else the --model file.
            if (!TryOpenSlots(config, mfcc, out ModelSlots? slots, out string why))
            {
                stderr.WriteLine($"edgekws-agent: configuration error: Models.PublicKeyPath: {why}");
                return ExitBadConfiguration;
            }
            using ModelSlots? ownedSlots = slots;
            string manifestPath;
            KeywordModel? model;
            if (slots is not null)
            {
                Log($"model slots: {slots.BootReport} (pinned key {slots.PinnedKeyId})");
                if (slots.ActiveModel is null)
                {
                    if (!TryFindManifest(args, config, out manifestPath, out why) || !TrySeedSlots(slots, manifestPath, mfcc, config, Log, out why))
                    {
                        Log($"model refused: {why}");
                        return ExitModelRefused;
                    }
                }
                else if (args.ModelManifest is not null || args.ModelsDirectory is not null)
                {
                    Log($"--model/--models-dir ignored: slot {slots.ActiveSlot} is active (the slots decide what runs once they hold a model)");
                }
                model = slots.ActiveModel!;
                manifestPath = Path.Combine(slots.SlotDirectory(slots.ActiveSlot!.Value), ModelSlots.ManifestFileName);
            }
            else
            {
                if (!TryFindManifest(args, config, out manifestPath, out why))
                {
                    Log($"no model: {why}");
                    return ExitModelRefused;
                }
                if (!KeywordModel.TryLoad(manifestPath, mfcc.FeatureConfigHash, config.Detection.ModelBudgetBytes, out model, out why))
                {
                    Log($"model refused: {why}");
                    return ExitModelRefused;
                }
            }
            if (!KeywordDetector.TryCreate(model!, null, out KeywordDetector? detector, out why))
            {
                Log($"model refused: {why}");
                return ExitModelRefused;
            }

            // Bench only (--latency-out --time-frontend): time the front end and the model on the WAV first.
            LatencyRecorder? recorder = args.LatencyOut is null ? null : new LatencyRecorder();
            if (recorder is not null && args.TimeFrontEnd)
            {
                if (!string.Equals(config.Audio.Source, "wav", StringComparison.OrdinalIgnoreCase) || config.Audio.WavPath is null)
                {
                    detector!.Dispose();
                    stderr.WriteLine("edgekws-agent: configuration error: --time-frontend needs a WAV source (--wav PATH or Audio.Source=wav)");
                    return ExitBadConfiguration;
                }
                try
                {
                    recorder.TimeFrontEnd(config.Audio.WavPath, mfcc, model!, config.Audio.PeriodFrames, args.TimeFrontEndSeconds);
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException or InvalidOperationException or ArgumentException)
                {
                    detector!.Dispose();
                    Log($"--time-frontend failed: {ex.Message}");
                    return ExitFailure;
                }
                Log($"front end timed: {recorder.MfccFrameUs.Length} MFCC frames, {recorder.InferenceMs.Length} inferences");
            }

            // 4. Audio source.
            IAudioSource source;
            try
            {
                source = OpenSource(config);
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or AlsaException or UnauthorizedAccessException or InvalidDataException)
            {
                detector!.Dispose();
                Log($"cannot open audio source '{config.Audio.Source}': {ex.Message}");
                return ExitFailure;
            }

            // 5. Uplink on its own task; the pipeline on this thread.
            var queue = new OutboxUplinkQueue(outbox, mfcc.FeatureConfigHash, log: Log);
            MqttUplink uplink;
            try
            {
                uplink = new MqttUplink(UplinkOptions(config), queue);
            }
            catch (Exception ex) when (ex is ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                detector!.Dispose();
                source.Dispose();
                stderr.WriteLine($"edgekws-agent: configuration error: Mqtt: {ex.Message}");
                return ExitBadConfiguration;
            }

            // The front panel (status LED, mute button). "auto" by default: the real chip on a board (the mute button is a
            // privacy control), simulated only on machines that are not boards; the start line says which runs.
            GpioPanel panel;
            GpioDriverChoice gpioChoice;
            try
            {
                gpioChoice = GpioControllerFactory.Resolve(config.Gpio);
                panel = GpioPanel.Create(new GpioConfig { Driver = gpioChoice.Driver, StatusLedPin = config.Gpio.StatusLedPin, ButtonPin = config.Gpio.ButtonPin },
                    TimeProvider.System);
            }
            catch (Exception ex) when (ex is GpioUnavailableException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                detector!.Dispose();
                source.Dispose();
                stderr.WriteLine($"edgekws-agent: configuration error: Gpio.Driver: '{config.Gpio.Driver}': {ex.Message}");
                return ExitBadConfiguration;
            }
            using var gpio = new GpioStatusSink(panel, StatusSink, Log);
            var sink = new ConsoleSink(stdout, args.Quiet, gpio, recorder);
            var options = PipelineOptions(config, mfcc, Log, (cls, result) =>
            {
                if (!result.IsAccepted) return;
                if (args.LogEnqueues)
                {
                    lock (stdout)
                    {
                        stdout.WriteLine($"E {result.Sequence.ToString(CultureInfo.InvariantCulture)} {cls}");
                        stdout.Flush();
                    }
                }
                uplink.NotifyEnqueued();
            });
            var pipeline = new ListeningPipeline(source, detector!, outbox, options, sink);
            sink.Pipeline = pipeline;
            Log($"listening: source {source.Name}, model {detector!.ModelVersion} ({Path.GetFileName(manifestPath)}), " +
                $"features {mfcc.FeatureConfigHash[..12]}, outbox {outbox.DatabasePath} (quota {config.Outbox.QuotaBytes} B on disk), broker {config.Mqtt.Host}:{config.Mqtt.Port}, " +
                $"raw audio upload {(config.Privacy.UploadRawAudio ? "ON (consent)" : "off")}, {GpioStartText(config.Gpio, gpioChoice)}");
            if (gpioChoice.Warning is { } gpioWarning)
            {
                Log("gpio: WARNING: " + gpioWarning);
            }

            panel.MuteChanged += muted =>
            {
                pipeline.Muted = muted;
                Log(muted ? "muted by the button: audio is read and discarded, no detection" : "unmuted: listening");
            };

            // Model updates: commands from the MQTT session go to a worker thread (never the audio thread).
            ModelUpdateWorker? updates = null;
            if (slots is not null)
            {
                updates = new ModelUpdateWorker(slots, pipeline, outbox, config.DeviceId, uplink.NotifyEnqueued, sink, Log);
                uplink.CommandReceived = updates.Post;
                updates.ReportCurrent();
                updates.Start();
            }
            else
            {
                Log("model updates off: no model-signing key pinned (Models.PublicKeyPath or {StateDirectory}/keys/model-signing.pub.pem)");
            }

            uplink.Start();
            using var statusWatch = new Timer(_ => sink.WatchUplink(uplink.State), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
            int exit = ExitOk;
            // Managed bytes allocated by every thread while listening (pipeline, outbox writer, uplink): the bench divides by audio seconds.
            long allocatedBefore = recorder is null ? 0 : GC.GetTotalAllocatedBytes(precise: true);
            try
            {
                pipeline.Run(stop);
            }
            catch (Exception ex) when (ex is IOException or AlsaException or InvalidDataException)
            {
                Log($"audio source failed: {ex.Message}");
                exit = ExitFailure;
            }

            // 6. Graceful end: finish the model command in hand (its status goes to the outbox), give the
            // uplink a moment to drain, then stop it cleanly (offline status).
            if (recorder is not null)
            {
                recorder.ManagedAllocatedBytes = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            }
            updates?.Dispose();
            var drain = Stopwatch.StartNew();
            while (drain.Elapsed < args.Drain && outbox.GetStats().TotalCount > 0)
            {
                Thread.Sleep(50);
            }
            uplink.DisposeAsync().AsTask().GetAwaiter().GetResult();
            statusWatch.Dispose();

            ListeningPipelineStats s = pipeline.Stats;
            OutboxStats o = outbox.GetStats();
            MqttUplinkStats u = uplink.Stats;
            (double p50, double p99, int n) = pipeline.DecisionLatencyMs();
            (double i50, double i99, int inferences) = pipeline.InferenceTimeMs();
            double audioSeconds = s.ListeningSeconds;
            double elapsed = wall.Elapsed.TotalSeconds;
            string summary = string.Create(CultureInfo.InvariantCulture,
                $"summary: source={source.Name} audio_s={audioSeconds:F2} elapsed_s={elapsed:F2} speed={audioSeconds / Math.Max(elapsed, 1e-9):F1}x " +
                $"detections={s.Detections} clips_audio={s.ClipsAudio} clips_features={s.ClipsFeatures} clips_dropped={s.ClipsDropped} " +
                $"near_misses={s.NearMisses} near_misses_sent={s.NearMissesSent} near_misses_rate_limited={s.NearMissesRateLimited} " +
                $"heartbeats={s.Heartbeats} sketches={s.Sketches} refused={s.EnqueueRefused} failed={s.EnqueueFailed} overruns={s.Overruns} " +
                $"outbox_depth={o.TotalCount} outbox_bytes={o.TotalBytes} sent={u.Acknowledged} dead_lettered={queue.DeadLetteredCount} " +
                $"decision_latency_ms_p50={p50:F3} decision_latency_ms_p99={p99:F3} n={n} inference_ms_p50={i50:F3} inference_ms_p99={i99:F3} inferences={inferences} rss_mb={ProcessMemory.ResidentBytes() / 1048576.0:F1} " +
                $"muted_s={pipeline.MutedSeconds:F2} model={pipeline.Detector.ModelVersion} end={(s.SourceEnded ? "source-ended" : "stopped")}");
            lock (stdout)
            {
                stdout.WriteLine(summary);
                stdout.Flush();
            }
            if (recorder is not null)
            {
                try
                {
                    recorder.Write(args.LatencyOut!, audioSeconds, elapsed, ProcessMemory.ResidentBytes(), (i50, i99, inferences));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Log($"cannot write --latency-out {args.LatencyOut}: {ex.Message}");
                    exit = ExitFailure;
                }
            }
            pipeline.Detector.Dispose();
            source.Dispose();
            return exit;
        }
    }

    /// <summary>The panel's part of the start line: which driver runs and why, and what a simulated one means.</summary>
    private static string GpioStartText(GpioConfig config, GpioDriverChoice choice)
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

    private static ListeningPipelineOptions PipelineOptions(AgentConfig config, MfccConfig mfcc, Action<string>? log,
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

    private static bool TryFindManifest(AgentArguments args, AgentConfig config, out string path, out string why)
    {
        why = "";
        if (args.ModelManifest is not null)
        {
            path = args.ModelManifest;
            return true;
        }
        string dir = args.ModelsDirectory ?? Path.Combine(config.StateDirectory, "models");
        path = "";
        if (!Directory.Exists(dir))
        {
            why = $"models directory '{dir}' does not exist (give --model MANIFEST or --models-dir DIR)";
            return false;
        }
        string[] manifests = Directory.GetFiles(dir, "*.manifest.json");
        Array.Sort(manifests, StringComparer.Ordinal);
        if (manifests.Length == 0)
        {
            why = $"no *.manifest.json in '{dir}'";
            return false;
        }
        path = manifests[0];
        return true;
    }

    /// <summary>
    /// Opens the slots when a key is pinned: <c>Models.PublicKeyPath</c>, or the default
    /// <c>{state}/keys/model-signing.pub.pem</c> if it exists. No key: null (model updates off). False: the key is unusable.
    /// </summary>
    private static bool TryOpenSlots(AgentConfig config, MfccConfig mfcc, out ModelSlots? slots, out string why)
    {
        slots = null;
        why = "";
        string keyPath = config.Models.PublicKeyPath ?? Path.Combine(config.StateDirectory, "keys", "model-signing.pub.pem");
        if (config.Models.PublicKeyPath is null && !File.Exists(keyPath)) return true;
        return ModelSlots.TryOpen(new ModelSlotsOptions
        {
            StateDirectory = config.StateDirectory,
            FeatureConfigHash = mfcc.FeatureConfigHash,
            PublicKeyPath = keyPath,
            ModelBudgetBytes = config.Detection.ModelBudgetBytes,
        }, out slots, out why);
    }

    /// <summary>
    /// First boot with model updates on: the slots are empty, so the --model file is installed into
    /// slot A through the same checks as any update (signature, hash, budget, load, canaries). It must
    /// carry its detached signature beside it (<c>{manifest}.sig</c>, 64 bytes P1363): an unsigned
    /// model never becomes a slot, so a device that pins a key only ever runs signed models.
    /// </summary>
    private static bool TrySeedSlots(ModelSlots slots, string manifestPath, MfccConfig mfcc, AgentConfig config, Action<string> log, out string why)
    {
        string signaturePath = manifestPath + ".sig";
        if (!File.Exists(signaturePath))
        {
            why = $"model updates are on (a signing key is pinned) and the slots are empty, but {manifestPath} has no signature {signaturePath} to seed slot A with";
            return false;
        }
        if (!KeywordModel.TryLoad(manifestPath, mfcc.FeatureConfigHash, config.Detection.ModelBudgetBytes, out KeywordModel? model, out why)) return false;
        ModelUpdate seed;
        try
        {
            seed = ModelUpdate.FromBytes(File.ReadAllBytes(manifestPath), File.ReadAllBytes(signaturePath), File.ReadAllBytes(model!.ModelPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            why = $"cannot read the seed model: {ex.Message}";
            return false;
        }
        ModelUpdateOutcome outcome = slots.TryInstall(seed);
        if (!outcome.Succeeded)
        {
            why = $"seeding slot {slots.IdleSlot} from {manifestPath}: {outcome.Reason}";
            return false;
        }
        log($"model slots: seeded slot {slots.ActiveSlot} from {manifestPath}: model {slots.ActiveModelVersion}");
        why = "";
        return true;
    }

    private static IAudioSource OpenSource(AgentConfig config) => config.Audio.Source.ToLowerInvariant() switch
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

    private static MqttUplinkOptions UplinkOptions(AgentConfig config)
    {
        MqttConfig m = config.Mqtt;
        bool tls = m.CaCertificatePath is not null || m.ClientCertificatePath is not null;
        return new MqttUplinkOptions
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
    }

    /// <summary>Prints detections and uplink changes, and forwards everything to the GPIO sink if one is set.</summary>
    private sealed class ConsoleSink(TextWriter stdout, bool quiet, IAgentStatusSink? next, LatencyRecorder? recorder) : IAgentStatusSink
    {
        private UplinkState _lastUplink = UplinkState.Stopped;
        private bool? _online; // unknown until the first look, so a device that never connects shows Offline

        public ListeningPipeline? Pipeline { get; set; }

        public void OnStatus(AgentStatus status) => next?.OnStatus(status);

        public void OnDetection(in DetectionNotice notice)
        {
            next?.OnDetection(notice);
            double latencyMs = notice.DecisionLatencyTicks < 0 ? double.NaN : notice.DecisionLatencyTicks * 1000.0 / Stopwatch.Frequency;
            recorder?.AddDetection(notice.KeywordEndSample / 16000.0, notice.Event.Score, latencyMs);
            if (quiet) return;
            string line = string.Create(CultureInfo.InvariantCulture,
                $"detection: end_s={notice.KeywordEndSample / 16000.0:F3} score={notice.Event.Score:F3} model={notice.Event.ModelVersion} decision_latency_ms={latencyMs:F3} clip={notice.ClipId:N}");
            lock (stdout)
            {
                stdout.WriteLine(line);
                stdout.Flush();
            }
        }

        public void WatchUplink(UplinkState state)
        {
            if (state == _lastUplink && _online is not null) return;
            _lastUplink = state;
            bool online = state == UplinkState.Connected;
            if (_online != online)
            {
                _online = online;
                OnStatus(online ? AgentStatus.Online : AgentStatus.Offline);
            }
        }
    }
}

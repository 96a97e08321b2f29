using System.Collections;
using System.Diagnostics;
using System.Globalization;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.Gpio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Features;

namespace EdgeKws.Agent;

/// <summary>
/// Wires the agent: configuration -> state directory -> outbox -> model -> audio source -> listening
/// pipeline (this thread) + MQTT uplink (its own task). Returns the process exit code.
/// </summary>
/// <remarks>Each start-up step (<see cref="AgentStartup"/>, <see cref="AgentModel"/>) logs its own failure and returns
/// the exit code; what a step created is owned by a <c>using</c> here, so every exit disposes exactly what exists.</remarks>
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
        var log = new AgentLog(stderr);

        // 1. Configuration: a bad value stops the agent here, naming the key and the reason.
        if (!AgentStartup.TryLoadConfiguration(args, environment, log, out AgentConfig? config)) return ExitBadConfiguration;
        MfccConfig mfcc = MfccConfig.Default;

        // 2. State directory and outbox.
        using OutboxStore? outbox = AgentStartup.OpenOutbox(config, log, out int exit);
        if (outbox is null) return exit;

        // 3. Model: from the A/B slots when a model-signing key is pinned (model updates on), else the --model file.
        if (!AgentModel.TryOpenSlots(config, mfcc, out ModelSlots? slots, out string why))
        {
            log.ConfigurationError($"Models.PublicKeyPath: {why}");
            return ExitBadConfiguration;
        }
        using ModelSlots? ownedSlots = slots;
        if (!AgentModel.TrySelect(args, config, mfcc, slots, log, out KeywordModel? model, out string manifestPath)) return ExitModelRefused;
        if (!KeywordDetector.TryCreate(model, null, out KeywordDetector? created, out why))
        {
            log.Write($"model refused: {why}");
            return ExitModelRefused;
        }
        KeywordDetector detector = created!;
        using var detectorInUse = new DetectorInUse(detector);

        // Bench only (--latency-out --time-frontend): time the front end and the model on the WAV first.
        LatencyRecorder? recorder = args.LatencyOut is null ? null : new LatencyRecorder();
        if (recorder is not null && args.TimeFrontEnd && !AgentStartup.TryTimeFrontEnd(recorder, args, config, mfcc, model, log, out exit)) return exit;

        // 4. Audio source.
        using IAudioSource? source = AgentStartup.OpenSource(config, log);
        if (source is null) return ExitFailure;

        // 5. Uplink on its own task (started once everything is wired), the front panel, the pipeline on this thread.
        var queue = new OutboxUplinkQueue(outbox, mfcc.FeatureConfigHash, log: log.Write);
        MqttUplink? uplink = AgentStartup.CreateUplink(config, queue, log);
        if (uplink is null) return ExitBadConfiguration;
        using var uplinkLifetime = new BlockingAsyncDispose(uplink);
        GpioPanel? panel = AgentStartup.OpenPanel(config, log, out GpioDriverChoice? gpioChoice);
        if (panel is null) return ExitBadConfiguration;
        using var gpio = new GpioStatusSink(panel, StatusSink, log.Write);

        var sink = new ConsoleStatusSink(stdout, args.Quiet, gpio, recorder);
        var options = AgentStartup.PipelineOptions(config, mfcc, log.Write, (cls, result) =>
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
        var pipeline = new ListeningPipeline(source, detector, outbox, options, sink);
        detectorInUse.Pipeline = pipeline;
        log.Write($"listening: source {source.Name}, model {detector.ModelVersion} ({Path.GetFileName(manifestPath)}), " +
            $"features {mfcc.FeatureConfigHash[..12]}, outbox {outbox.DatabasePath} (quota {config.Outbox.QuotaBytes} B on disk), broker {config.Mqtt.Host}:{config.Mqtt.Port}, " +
            $"raw audio upload {(config.Privacy.UploadRawAudio ? "ON (consent)" : "off")}, {AgentStartup.GpioStartText(config.Gpio, gpioChoice!)}");
        if (gpioChoice!.Warning is { } gpioWarning)
        {
            log.Write("gpio: WARNING: " + gpioWarning);
        }

        panel.MuteChanged += muted =>
        {
            pipeline.Muted = muted;
            log.Write(muted ? "muted by the button: audio is read and discarded, no detection" : "unmuted: listening");
        };

        // Model updates: commands from the MQTT session go to a worker thread (never the audio thread).
        ModelUpdateWorker? updates = null;
        if (slots is not null)
        {
            updates = new ModelUpdateWorker(slots, pipeline, outbox, config.DeviceId, uplink.NotifyEnqueued, sink, log.Write);
            uplink.CommandReceived = updates.Post;
            updates.ReportCurrent();
            updates.Start();
        }
        else
        {
            log.Write("model updates off: no model-signing key pinned (Models.PublicKeyPath or {StateDirectory}/keys/model-signing.pub.pem)");
        }

        uplink.Start();
        using var statusWatch = new Timer(_ => sink.WatchUplink(uplink.State), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
        exit = ExitOk;
        // Managed bytes allocated by every thread while listening (pipeline, outbox writer, uplink): the bench divides by audio seconds.
        long allocatedBefore = recorder is null ? 0 : GC.GetTotalAllocatedBytes(precise: true);
        try
        {
            pipeline.Run(stop);
        }
        catch (Exception ex) when (ex is IOException or AlsaException or InvalidDataException)
        {
            log.Write($"audio source failed: {ex.Message}");
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
        uplinkLifetime.Dispose();
        statusWatch.Dispose();

        var summary = AgentSummary.Take(source.Name, wall, pipeline, outbox, uplink, queue);
        lock (stdout)
        {
            stdout.WriteLine(summary.Line);
            stdout.Flush();
        }
        if (recorder is not null)
        {
            try
            {
                recorder.Write(args.LatencyOut!, summary.AudioSeconds, summary.ElapsedSeconds, ProcessMemory.ResidentBytes(), summary.Inference);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                log.Write($"cannot write --latency-out {args.LatencyOut}: {ex.Message}");
                exit = ExitFailure;
            }
        }
        return exit;
    }

    /// <summary>
    /// The agent owns the detector in use when it ends: the one it loaded, or, once a pipeline runs, the pipeline's (a model
    /// update swaps detectors; the worker disposes the ones it replaces).
    /// </summary>
    private sealed class DetectorInUse(KeywordDetector loaded) : IDisposable
    {
        public ListeningPipeline? Pipeline { get; set; }

        public void Dispose() => (Pipeline?.Detector ?? loaded).Dispose();
    }

    /// <summary>Disposes an <see cref="IAsyncDisposable"/> from this synchronous host, once: early at the graceful end
    /// (the uplink's clean disconnect comes before the summary), or when the scope ends on an exit before it.</summary>
    private sealed class BlockingAsyncDispose(IAsyncDisposable target) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            target.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}

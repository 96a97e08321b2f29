using System.Diagnostics;
using System.Globalization;
using EdgeKws.Detection;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>Bounds of the on-device health check a new model must pass before it becomes active.</summary>
public sealed class ModelHealthCheckOptions
{
    /// <summary>Inferences timed for the latency figure (after the canary runs have warmed the session).</summary>
    public int LatencyInferences { get; init; } = 20;

    /// <summary>
    /// Bound on the p95 per-inference latency, ms. Generous on purpose: the check must pass under
    /// qemu emulation and on a busy board; it catches a model that is an order of magnitude too big
    /// or slow, not a few percent. (The test model takes well under 1 ms per inference natively.)
    /// </summary>
    public double MaxP95LatencyMs { get; init; } = 50.0;
}

/// <summary>What the health check measured.</summary>
/// <param name="PositiveDetections">Detections on the positive canary (must be at least 1).</param>
/// <param name="NegativeDetections">Detections on the negative canary (must be 0).</param>
/// <param name="LatencySamples">Inferences timed.</param>
/// <param name="P95LatencyMs">95th percentile (nearest rank) of the timed inferences.</param>
/// <param name="MaxLatencyMs">Slowest timed inference.</param>
public readonly record struct ModelHealthReport(
    int PositiveDetections, int NegativeDetections, int LatencySamples, double P95LatencyMs, double MaxLatencyMs);

/// <summary>
/// Runs a freshly loaded detector on the canaries and times its inferences. The detector is left
/// <see cref="KeywordDetector.Reset"/> so it can go live as is. Allocates only the latency array.
/// </summary>
internal static class ModelHealthCheck
{
    /// <summary>
    /// Loads the agent's canaries (they ship with the agent, see <see cref="ModelSlotsOptions.CanaryDirectory"/>)
    /// and runs <see cref="TryRun"/>. <paramref name="report"/> is null when a canary could not be
    /// loaded: nothing was measured, and the model cannot be vetted.
    /// </summary>
    public static bool TryRunOnAgentCanaries(KeywordDetector detector, ModelSlotsOptions options,
        out ModelHealthReport? report, out ModelUpdateFailure failure, out string reason)
    {
        report = null;
        string canaryDir = options.ResolvedCanaryDirectory;
        if (!ModelCanary.TryLoad(Path.Combine(canaryDir, ModelCanary.PositiveFileName), options.FeatureConfigHash, out var positive, out reason)
            || !ModelCanary.TryLoad(Path.Combine(canaryDir, ModelCanary.NegativeFileName), options.FeatureConfigHash, out var negative, out reason))
        {
            failure = ModelUpdateFailure.CanaryUnavailable;
            return false;
        }
        bool healthy = TryRun(detector, positive!, negative!, options.HealthCheck, out var measured, out failure, out reason);
        report = measured;
        return healthy;
    }

    public static bool TryRun(KeywordDetector detector, ModelCanary positive, ModelCanary negative, ModelHealthCheckOptions options,
        out ModelHealthReport report, out ModelUpdateFailure failure, out string reason)
    {
        report = default;
        foreach (var canary in (ReadOnlySpan<ModelCanary>)[positive, negative])
        {
            if (canary.Coefficients != detector.Coefficients)
            {
                failure = ModelUpdateFailure.CanaryUnavailable;
                reason = $"canary {canary.Path} has {canary.Coefficients} coefficients per frame, the model takes {detector.Coefficients}";
                return false;
            }
            if (canary.FrameCount < detector.WindowFrames)
            {
                failure = ModelUpdateFailure.CanaryUnavailable;
                reason = $"canary {canary.Path} has {canary.FrameCount} frames, shorter than the model's {detector.WindowFrames}-frame window";
                return false;
            }
        }

        var latencyTicks = new long[Math.Max(1, options.LatencyInferences)];
        int timed = 0;

        detector.Reset();
        int hits = Run(detector, positive, latencyTicks, ref timed);
        detector.Reset();
        int falseAlarms = Run(detector, negative, latencyTicks, ref timed);
        // More passes over the negative canary until enough inferences were timed; any detection
        // there is a false alarm too.
        while (timed < latencyTicks.Length)
        {
            long before = detector.InferenceCount;
            falseAlarms += Run(detector, negative, latencyTicks, ref timed);
            if (detector.InferenceCount == before) break; // cannot happen for a canary >= one window; never loop forever
        }
        detector.Reset();

        Array.Sort(latencyTicks, 0, timed);
        double p95 = timed == 0 ? double.PositiveInfinity : TicksToMs(latencyTicks[Math.Max(0, (int)Math.Ceiling(0.95 * timed) - 1)]);
        double max = timed == 0 ? double.PositiveInfinity : TicksToMs(latencyTicks[timed - 1]);
        report = new ModelHealthReport(hits, falseAlarms, timed, p95, max);

        if (hits == 0)
        {
            failure = ModelUpdateFailure.CanaryMissed;
            reason = string.Create(CultureInfo.InvariantCulture,
                $"model {detector.ModelVersion} did not fire on the positive canary ({positive.FrameCount} frames; last smoothed score {detector.LastSmoothedScore:0.###}, threshold {detector.Threshold:0.###})");
            return false;
        }
        if (falseAlarms > 0)
        {
            failure = ModelUpdateFailure.CanaryFalseAlarm;
            reason = $"model {detector.ModelVersion} fired {falseAlarms} time(s) on the negative canary ({negative.FrameCount} frames)";
            return false;
        }
        if (!(p95 < options.MaxP95LatencyMs))
        {
            failure = ModelUpdateFailure.TooSlow;
            reason = string.Create(CultureInfo.InvariantCulture,
                $"model {detector.ModelVersion} p95 inference latency {p95:0.###} ms over {timed} inferences is not under the {options.MaxP95LatencyMs:0.###} ms bound");
            return false;
        }
        failure = ModelUpdateFailure.None;
        reason = "";
        return true;
    }

    private static int Run(KeywordDetector detector, ModelCanary canary, long[] latencyTicks, ref int timed)
    {
        ReadOnlySpan<float> frames = canary.Frames;
        int c = canary.Coefficients;
        int detections = 0;
        for (int t = 0; t < canary.FrameCount; t++)
        {
            long inferencesBefore = detector.InferenceCount;
            long start = Stopwatch.GetTimestamp();
            if (detector.TryPushFrame(frames.Slice(t * c, c), out _)) detections++;
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (detector.InferenceCount != inferencesBefore && timed < latencyTicks.Length)
            {
                latencyTicks[timed++] = elapsed;
            }
        }
        return detections;
    }

    private static double TicksToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

using System.Diagnostics;
using System.Globalization;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Uplink;

namespace EdgeKws.Agent;

/// <summary>The run's closing figures: the <c>summary:</c> line on stdout (docs/device-agent.md: one key=value per
/// figure, invariant culture) and the ones <c>--latency-out</c> writes with the same values.</summary>
internal sealed record AgentSummary(string Line, double AudioSeconds, double ElapsedSeconds, (double P50Ms, double P99Ms, int Count) Inference)
{
    /// <summary>Takes the figures once the pipeline has stopped and the uplink is disposed.</summary>
    public static AgentSummary Take(string sourceName, Stopwatch wall, ListeningPipeline pipeline, OutboxStore outbox, MqttUplink uplink,
        OutboxUplinkQueue queue)
    {
        ListeningPipelineStats s = pipeline.Stats;
        OutboxStats o = outbox.GetStats();
        MqttUplinkStats u = uplink.Stats;
        (double p50, double p99, int n) = pipeline.DecisionLatencyMs();
        (double i50, double i99, int inferences) = pipeline.InferenceTimeMs();
        double audioSeconds = s.ListeningSeconds;
        double elapsed = wall.Elapsed.TotalSeconds;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"summary: source={sourceName} audio_s={audioSeconds:F2} elapsed_s={elapsed:F2} speed={audioSeconds / Math.Max(elapsed, 1e-9):F1}x " +
            $"detections={s.Detections} clips_audio={s.ClipsAudio} clips_features={s.ClipsFeatures} clips_dropped={s.ClipsDropped} " +
            $"near_misses={s.NearMisses} near_misses_sent={s.NearMissesSent} near_misses_rate_limited={s.NearMissesRateLimited} " +
            $"heartbeats={s.Heartbeats} sketches={s.Sketches} refused={s.EnqueueRefused} failed={s.EnqueueFailed} overruns={s.Overruns} " +
            $"outbox_depth={o.TotalCount} outbox_bytes={o.TotalBytes} sent={u.Acknowledged} dead_lettered={queue.DeadLetteredCount} " +
            $"decision_latency_ms_p50={p50:F3} decision_latency_ms_p99={p99:F3} n={n} inference_ms_p50={i50:F3} inference_ms_p99={i99:F3} inferences={inferences} rss_mb={ProcessMemory.ResidentBytes() / 1048576.0:F1} " +
            $"muted_s={pipeline.MutedSeconds:F2} model={pipeline.Detector.ModelVersion} end={(s.SourceEnded ? "source-ended" : "stopped")}");
        return new AgentSummary(line, audioSeconds, elapsed, (i50, i99, inferences));
    }
}

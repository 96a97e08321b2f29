using System.Diagnostics;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Tests.Outbox;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Listening;

/// <summary>
/// Keyword-end-to-event latency in real time (a measurement; the figures go to docs/device-agent.md,
/// the assertions only check that every keyword was found where it was spoken).
/// </summary>
/// <remarks>
/// Definition: the WAV is replayed paced to the wall clock, as a microphone delivers it (sample s is
/// available at t0 + s / 16000, t0 = the start of the replay). The keyword's end is the last sample of
/// the tone burst. Latency = (time the DetectionEvent is raised) - (t0 + burstEnd / 16000). It includes
/// everything a user would wait for: the audio after the keyword the model needs to decide (end-pointing,
/// ~95 ms for the tone1k model), the capture period (one 20 ms read), MFCC and inference, and scheduling.
/// </remarks>
public sealed class ListeningPipeline_Latency_Tests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Measures_keyword_end_to_event_latency_with_real_time_replay()
    {
        double[] starts = ListeningTestKit.Starts(8, first: 1.2, every: 1.6);
        string wav = ListeningTestKit.WriteWav(_dir.File("rt.wav"), ListeningTestKit.Synthesize(14.2, starts));
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = true });
        using var detector = ListeningTestKit.CreateDetector();
        var sink = new RecordingSink();
        long t0 = 0;
        var events = new List<long>();
        var recorder = new LatencySink(sink, ts => t0 = ts, ts => events.Add(ts));
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(clock: HeartbeatClock.Wall), recorder);

        pipeline.Run(CancellationToken.None);

        Assert.Equal(starts.Length, sink.Detections.Count);
        var latencies = new double[starts.Length];
        for (int i = 0; i < starts.Length; i++)
        {
            double keywordEnd = starts[i] + ListeningTestKit.BurstSeconds;
            Assert.InRange(sink.Detections[i].KeywordEndSample / 16000.0 - keywordEnd, 0.0, 0.2);
            latencies[i] = ((events[i] - t0) * 1000.0 / Stopwatch.Frequency) - (keywordEnd * 1000);
        }
        Array.Sort(latencies);
        (double inf50, double inf99, int inferences) = pipeline.InferenceTimeMs();
        (double dec50, double dec99, _) = pipeline.DecisionLatencyMs();
        output.WriteLine($"keyword end -> event: p50 {ListeningPipeline.Percentile(latencies, 0.5):F1} ms, p99 {ListeningPipeline.Percentile(latencies, 0.99):F1} ms "
            + $"(min {latencies[0]:F1}, max {latencies[^1]:F1}, n {latencies.Length}); decision (block delivered -> event) p50 {dec50:F3} ms p99 {dec99:F3} ms; "
            + $"inference p50 {inf50:F3} ms p99 {inf99:F3} ms over {inferences} windows");
        Assert.All(latencies, l => Assert.True(l > 0, "an event cannot precede the keyword's end"));
    }

    private sealed class LatencySink(RecordingSink inner, Action<long> started, Action<long> detected) : IAgentStatusSink
    {
        public void OnStatus(AgentStatus status)
        {
            if (status == AgentStatus.Listening) started(Stopwatch.GetTimestamp());
            inner.OnStatus(status);
        }

        public void OnDetection(in DetectionNotice notice)
        {
            detected(notice.EventTimestamp);
            inner.OnDetection(notice);
        }
    }
}

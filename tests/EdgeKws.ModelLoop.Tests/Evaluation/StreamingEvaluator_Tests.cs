using EdgeKws.Detection;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Tests.Fixtures;
using EdgeKws.Shared.Features;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

[Collection(StreamingModelCollection.Name)]
public class StreamingEvaluator_Tests(StreamingModelFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Evaluates_the_held_out_streams_end_to_end_with_the_device_front_end_and_detector()
    {
        var e = fixture.Baseline;
        var r = e.Report;
        output.WriteLine($"{r.FaPerHour:0.##} FA/h ({r.FalseAccepts} in {r.NegativeHours:0.####} h), FRR {r.FalseRejectRate:P1} ({r.MissedKeywords}/{r.Keywords}) at {r.Threshold}");

        Assert.Equal(2, r.Streams.Count);
        var negative = Assert.Single(r.Streams, s => s.Kind == "negative");
        var positive = Assert.Single(r.Streams, s => s.Kind == "positive");
        // One inference per 10-frame stride once the 98-frame window is full: the whole minute went through.
        long frames = MfccConfig.Default.FrameCount((long)Math.Round(fixture.Streams.Single(s => s.Kind == EvaluationStreamKind.Negative).DurationMs * 16));
        Assert.Equal((frames - 98) / 10 + 1, negative.Inferences);
        Assert.InRange(r.NegativeStreamHours, 59.0 / 3600, 61.0 / 3600);
        // Keywords: the corpus's "hey edge" events in the positive stream; the other keywords are "other phrases".
        int heyEdge = fixture.Streams.Single(s => s.Kind == EvaluationStreamKind.Positive).Phrases.Count(p => p.Phrase == "hey edge");
        Assert.Equal(heyEdge, r.Keywords);
        Assert.Equal(16 - heyEdge, positive.OtherPhrases);
        Assert.True(r.PositiveBackgroundHours > 0 && r.PositiveBackgroundHours < positive.DurationSeconds / 3600);
        Assert.Equal(r.NegativeStreamHours + r.PositiveBackgroundHours, r.NegativeHours, 12);
        Assert.Equal(r.FalseAccepts / r.NegativeHours, r.FaPerHour, 9);
        Assert.Equal(r.FalseAcceptsInNegativeStreams + r.FalseAcceptsInPositiveStreams, r.FalseAccepts);
        Assert.Equal(r.MissedKeywords / (double)r.Keywords, r.FalseRejectRate, 12);
        Assert.True(r.ReplayCheck.IdenticalFrames);
        Assert.Equal(r.ReplayCheck.DetectorEvents, negative.Detections + positive.Detections);
        // The deployed threshold is a point of the curve, with the detector's counts.
        var p = Assert.Single(e.Curve, c => c.Threshold == r.Threshold);
        Assert.Equal((r.FalseAccepts, r.MissedKeywords), (p.FalseAccepts, p.MissedKeywords));
        Assert.True(e.Curve.Length > 400);
        // The tiny model must do something: at some threshold it fires at least once.
        Assert.Contains(e.Curve, c => c.FalseAccepts > 0 || c.MissedKeywords < c.Keywords);

        string dir = Path.Combine(fixture.Root, "written");
        EvaluationWriter.Write(e, dir);
        string[] csv = File.ReadAllLines(Path.Combine(dir, EvaluationWriter.CurveFile));
        Assert.Equal(e.Curve.Length + 1, csv.Length);
        Assert.StartsWith("threshold,false_accepts", csv[0], StringComparison.Ordinal);
        Assert.Contains("\"faPerHour\"", File.ReadAllText(Path.Combine(dir, EvaluationWriter.ReportFile)), StringComparison.Ordinal);
        Assert.True(new FileInfo(Path.Combine(dir, EvaluationWriter.PlotFile)).Length > 1000);
    }

    [Theory]
    [InlineData(0.2f)]
    [InlineData(0.5f)]
    [InlineData(0.8f)]
    [InlineData(0.97f)]
    public void Sweep_at_a_threshold_counts_exactly_what_the_real_detector_fires_at_it(float threshold)
    {
        // The baseline ran the detector once at the manifest threshold and swept the rest by replay;
        // here the detector itself runs at `threshold`.
        var real = StreamingEvaluator.Evaluate(fixture.ManifestPath, fixture.Streams, new StreamingEvaluationOptions { Threshold = threshold });
        var swept = Assert.Single(fixture.Baseline.Curve, c => c.Threshold == threshold);
        output.WriteLine($"t={threshold}: detector {real.Report.ReplayCheck.DetectorEvents} events, FA {real.Report.FalseAccepts}, missed {real.Report.MissedKeywords}; sweep FA {swept.FalseAccepts}, missed {swept.MissedKeywords}");
        Assert.Equal(real.Report.FalseAccepts, swept.FalseAccepts);
        Assert.Equal(real.Report.MissedKeywords, swept.MissedKeywords);
        // Frame by frame: the replay over the baseline's trace gives the detector's own event frames.
        for (int i = 0; i < real.Traces.Count; i++)
        {
            var frames = new List<long>();
            var baseTrace = fixture.Baseline.Traces[i];
            long refractoryFrames = (fixture.Baseline.Report.RefractoryMs + 9) / 10;
            DetectionReplay.Replay(baseTrace.SmoothedScores, baseTrace.InferenceFrames, threshold, refractoryFrames, frames);
            Assert.Equal(real.Traces[i].DetectorEventFrames, frames);
            Assert.Equal(baseTrace.SmoothedScores, real.Traces[i].SmoothedScores);
        }
    }

    [Fact]
    public void Keyword_end_to_event_latency_is_the_first_accepting_detector_event_after_each_detected_keyword()
    {
        var e = StreamingEvaluator.Evaluate(fixture.ManifestPath, fixture.Streams, new StreamingEvaluationOptions { Threshold = 0.5f });
        var expected = new List<double>();
        foreach (StreamTrace tr in e.Traces)
        {
            foreach (var p in tr.Stream.Phrases.Where(p => p.Phrase == "hey edge"))
            {
                double[] accepting = [.. tr.DetectorEventFrames.Select(f => (f + 1) * 10.0).Where(t => t >= p.StartMs && t <= p.EndMs + 1000)];
                if (accepting.Length > 0) expected.Add(accepting.Min() - p.EndMs);
            }
        }
        expected.Sort();
        LatencySummary l = Assert.IsType<LatencySummary>(e.Report.KeywordEndToEvent);
        output.WriteLine($"{l.Count} detected: p50 {l.P50Ms} p90 {l.P90Ms} p99 {l.P99Ms} min {l.MinMs} max {l.MaxMs}");
        Assert.Equal(e.Report.Keywords - e.Report.MissedKeywords, l.Count);
        Assert.True(l.Count >= 3, "the fixture detects several keywords at 0.5");
        Assert.Equal(expected.Count, l.Count);
        Assert.Equal((expected[0], expected[^1]), (l.MinMs, l.MaxMs));
        Assert.Equal(expected[(int)Math.Ceiling(0.5 * expected.Count) - 1], l.P50Ms);
    }

    [Fact]
    public void Latency_summary_uses_nearest_rank_percentiles()
    {
        LatencySummary l = LatencySummary.Of([100, 10, 30, 20, 50, 40, 60, 80, 70, 90])!;
        Assert.Equal((10, 50.0, 90.0, 100.0, 10.0, 100.0), (l.Count, l.P50Ms, l.P90Ms, l.P99Ms, l.MinMs, l.MaxMs));
        LatencySummary one = LatencySummary.Of([-40])!;
        Assert.Equal((-40.0, -40.0), (one.P50Ms, one.P99Ms));
        Assert.Null(LatencySummary.Of([]));
    }

    [Fact]
    public void Sweep_is_not_trivially_equal_across_thresholds()
    {
        // Guards the exactness test above: the check thresholds must give different event counts.
        var counts = StreamingModelFixture.CheckThresholds
            .Select(t => fixture.Baseline.Curve.Single(c => c.Threshold == t))
            .Select(p => (p.FalseAccepts, p.MissedKeywords)).Distinct().Count();
        Assert.True(counts >= 2, "every check threshold gave the same counts; the exactness test proves nothing");
    }

    [Fact]
    public void Refuses_a_model_trained_on_another_feature_config()
    {
        var other = new MfccConfig { CoefficientCount = 13, MelBinCount = 32 };
        var ex = Assert.Throws<InvalidDataException>(() =>
            StreamingEvaluator.Evaluate(fixture.ManifestPath, fixture.Streams, new StreamingEvaluationOptions { FeatureConfig = other }));
        Assert.Contains("feature config", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Detector_refractory_and_rearm_rules_match_the_replay_on_a_hand_made_trace()
    {
        // Inference every 10 frames; refractory 100 frames.
        float[] s = [0.1f, 0.9f, 0.95f, 0.2f, 0.9f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.9f, float.NaN, 0.9f];
        long[] f = [.. Enumerable.Range(0, s.Length).Select(i => 97L + 10 * i)];
        var events = new List<long>();
        int n = DetectionReplay.Replay(s, f, 0.5f, 100, events);
        // 107 fires; 127 is above again but not re-armed... 0.2 at 127 re-arms, 137 is within 100 frames
        // of 107 (refractory until 207); 217 fires (re-armed by the 0.1s); NaN re-arms; 237 is refractory (until 317).
        Assert.Equal([107L, 217L], events);
        Assert.Equal(2, n);
    }
}

using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Tests.Fixtures;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

[Collection(StreamingModelCollection.Name)]
public class PromotionGate_Tests(StreamingModelFixture fixture, ITestOutputHelper output)
{
    private StreamingEvaluation Evaluate(string manifest) => StreamingEvaluator.Evaluate(manifest, fixture.Streams);

    private void Print(GateReport g)
    {
        foreach (var c in g.Checks) output.WriteLine($"[{(c.Passed ? "pass" : "FAIL")}] {c.Name}: {c.Detail}");
        output.WriteLine(g.Summary);
    }

    [Fact]
    public void Refuses_the_same_weights_with_the_threshold_lowered_to_where_it_false_accepts_most()
    {
        var current = fixture.Baseline;
        // The lowered threshold: the one below the deployed threshold with the most false accepts on the sweep.
        var worst = current.Curve.Where(p => p.Threshold < current.Report.Threshold).MaxBy(p => p.FalseAccepts);
        Assert.True(worst.FalseAccepts >= current.Report.FalseAccepts + 2,
            $"lowering the threshold to {worst.Threshold} adds only {worst.FalseAccepts - current.Report.FalseAccepts} false accepts; the test needs a clearly worse candidate");
        var candidate = Evaluate(fixture.WithThreshold(worst.Threshold, "1.0.1-low-threshold"));

        var gate = PromotionGate.Decide(current, candidate);
        Print(gate);

        Assert.False(gate.Promote);
        Assert.False(gate.Checks.Single(c => c.Name == "deployed FA/hour").Passed);
        // Same weights: the curve itself is no worse, so the report says the threshold, not the model, is the problem.
        Assert.True(gate.Checks.Single(c => c.Name == "curve: FA/hour at equal FRR").Passed);
        Assert.StartsWith("REFUSE", gate.Summary, StringComparison.Ordinal);
        Assert.NotNull(gate.SuggestedCandidateThreshold);
        Assert.Equal(candidate.Report.FalseAccepts, gate.Candidate.FalseAccepts);
    }

    [Fact]
    public void Promotes_a_candidate_that_misses_fewer_keywords_at_no_more_false_accepts()
    {
        var curve = fixture.Baseline.Curve;
        // Current: the highest threshold that still detects something; candidate: the operating point that,
        // at no more false accepts, misses the fewest keywords.
        var detecting = curve.Where(p => p.MissedKeywords < p.Keywords).ToArray();
        Assert.NotEmpty(detecting);
        long fewestFa = detecting.Min(p => p.FalseAccepts);
        var better = detecting.Where(p => p.FalseAccepts == fewestFa).OrderBy(p => p.MissedKeywords).ThenByDescending(p => p.Threshold).First();
        var worse = curve.Where(p => p.FalseAccepts <= fewestFa && p.MissedKeywords > better.MissedKeywords).OrderByDescending(p => p.MissedKeywords).First();
        output.WriteLine($"current t={worse.Threshold} FA {worse.FalseAccepts} missed {worse.MissedKeywords}; candidate t={better.Threshold} FA {better.FalseAccepts} missed {better.MissedKeywords}");

        var current = Evaluate(fixture.WithThreshold(worse.Threshold, "1.0.0-high-threshold"));
        var candidate = Evaluate(fixture.WithThreshold(better.Threshold, "1.0.1"));
        // No margins: the candidate must be at least as good on both axes.
        var gate = PromotionGate.Decide(current, candidate, new GateMargins { FaPerHour = 0, FalseRejectRate = 0 });
        Print(gate);

        Assert.True(gate.Promote, gate.Summary);
        Assert.All(gate.Checks.Where(c => !c.Name.StartsWith("curve", StringComparison.Ordinal)), c => Assert.True(c.Passed, c.Name));
        Assert.True(candidate.Report.FalseRejectRate < current.Report.FalseRejectRate);

        // And the other way round the gate refuses: the old point misses more keywords.
        var back = PromotionGate.Decide(candidate, current, new GateMargins { FaPerHour = 0, FalseRejectRate = 0 });
        Print(back);
        Assert.False(back.Promote);
        Assert.False(back.Checks.Single(c => c.Name == "deployed FRR").Passed);

        string dir = Path.Combine(fixture.Root, "gate");
        EvaluationWriter.WriteGate(gate, current, candidate, dir);
        Assert.Contains("\"promote\": true", File.ReadAllText(Path.Combine(dir, EvaluationWriter.GateFile)), StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_to_compare_evaluations_of_different_stream_sets()
    {
        var onlyNegative = StreamingEvaluator.Evaluate(fixture.ManifestPath, [.. fixture.Streams.Where(s => s.Kind == EvaluationStreamKind.Negative)]);
        var gate = PromotionGate.Decide(fixture.Baseline, onlyNegative);
        Assert.False(gate.Promote);
        Assert.False(gate.Checks.Single(c => c.Name == "same evaluation set").Passed);
    }
}

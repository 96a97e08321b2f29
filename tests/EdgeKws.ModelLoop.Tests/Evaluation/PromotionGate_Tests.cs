using System.Text.Json;
using System.Text.Json.Nodes;
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
        // Operating points come from deployed evaluations, not from the sweep: the sweep's false accepts are those of the
        // negative streams, a deployed evaluation also counts those in positive streams and the refractory period (the
        // fixture's tiny model is not even monotonic in its threshold), and which thresholds separate the points depends on
        // the model's last bits. Evaluate a spread of the sweep's detecting thresholds and take a dominated pair: the
        // candidate at no more false accepts than the current point and fewer misses (fewest candidate false accepts first).
        var thresholds = fixture.Baseline.Curve.Where(p => p.MissedKeywords < p.Keywords).Select(p => p.Threshold).Distinct().Order().ToArray();
        Assert.NotEmpty(thresholds);
        int samples = Math.Min(8, thresholds.Length);
        var points = Enumerable.Range(0, samples)
            .Select(i => thresholds[i * (thresholds.Length - 1) / Math.Max(1, samples - 1)])
            .Distinct()
            .Select(t => (Threshold: t, Report: Evaluate(fixture.WithThreshold(t, "1.0.0-sweep")).Report))
            .ToArray();
        foreach (var p in points) output.WriteLine($"t={p.Threshold}: FA {p.Report.FalseAccepts}, missed {p.Report.MissedKeywords}");
        var pairs = (from b in points
                     from w in points
                     where b.Report.FalseAccepts <= w.Report.FalseAccepts && b.Report.MissedKeywords < w.Report.MissedKeywords
                     orderby b.Report.FalseAccepts, w.Report.MissedKeywords - b.Report.MissedKeywords descending, w.Report.FalseAccepts
                     select (Better: b, Worse: w)).ToArray();
        Assert.True(pairs.Length > 0, "no evaluated operating point dominates another; the fixture cannot show the rule");
        var (better, worse) = pairs[0];
        output.WriteLine($"current t={worse.Threshold}; candidate t={better.Threshold}");

        var current = Evaluate(fixture.WithThreshold(worse.Threshold, "1.0.0-high-threshold"));
        var candidate = Evaluate(fixture.WithThreshold(better.Threshold, "1.0.1"));
        Assert.Equal(better.Report.FalseAccepts, candidate.Report.FalseAccepts);
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

/// <summary>The "no engine or room regresses" rule, on hand-made breakdowns and on evaluations built from them.</summary>
[Collection(StreamingModelCollection.Name)]
public class PromotionGateGroups_Tests(StreamingModelFixture fixture, ITestOutputHelper output)
{
    // 30 espeak-ng and 24 festival keywords, all in the dry room.
    private static EvaluationBreakdown Breakdown(long espeakMissed, long festivalMissed) => new()
    {
        Threshold = 0.9f,
        Confidence = 0.95,
        OverallFrr = AccuracyBreakdown.Frr("all", 54, espeakMissed + festivalMissed),
        OverallFaPerHour = AccuracyBreakdown.Fa("all", 4.5, 1),
        FrrBy =
        [
            new FrrByTag { Tag = "engine", Groups = [AccuracyBreakdown.Frr("espeak-ng", 30, espeakMissed), AccuracyBreakdown.Frr("festival", 24, festivalMissed)] },
            new FrrByTag { Tag = "room", Groups = [AccuracyBreakdown.Frr("dry", 54, espeakMissed + festivalMissed)] },
            new FrrByTag { Tag = "voice", Groups = [AccuracyBreakdown.Frr("kal", 54, espeakMissed + festivalMissed)] },
        ],
        FaPerHourByKind = [AccuracyBreakdown.Fa("speech", 2, 1), AccuracyBreakdown.Fa("music", 2.5, 0)],
    };

    /// <summary>The fixture's evaluation with its breakdown replaced: same streams, curve and headline numbers.</summary>
    private StreamingEvaluation WithBreakdown(EvaluationBreakdown breakdown, string version)
    {
        var json = JsonNode.Parse(JsonSerializer.Serialize(fixture.Baseline.Report, EvaluationJsonContext.Default.EvaluationReport))!.AsObject();
        json["breakdown"] = JsonNode.Parse(JsonSerializer.Serialize(breakdown, EvaluationJsonContext.Default.EvaluationBreakdown));
        json["modelVersion"] = version;
        var report = JsonSerializer.Deserialize(json.ToJsonString(), EvaluationJsonContext.Default.EvaluationReport)!;
        return new StreamingEvaluation(report, fixture.Baseline.Curve, fixture.Baseline.Traces);
    }

    [Fact]
    public void Refuses_a_candidate_that_misses_more_keywords_of_one_engine_at_the_same_overall_frr()
    {
        // Overall 5 of 54 missed for both; festival goes 2 -> 5 (+3 > max(2, 2.4)), espeak-ng 3 -> 0.
        var current = WithBreakdown(Breakdown(3, 2), "1.0.0");
        var candidate = WithBreakdown(Breakdown(0, 5), "1.0.1");
        var gate = PromotionGate.Decide(current, candidate);
        foreach (var c in gate.Checks) output.WriteLine($"[{(c.Passed ? "pass" : "FAIL")}] {c.Name}: {c.Detail}");
        output.WriteLine(gate.Summary);

        Assert.False(gate.Promote);
        var check = gate.Checks.Single(c => c.Name == PromotionGate.GroupCheckName);
        Assert.False(check.Passed);
        Assert.Equal("engine festival: candidate misses 5/24, current 2 (allowed +2.4)", check.Detail);
        Assert.All(gate.Checks.Where(c => c.Name != PromotionGate.GroupCheckName && !c.Name.StartsWith("curve", StringComparison.Ordinal)), c => Assert.True(c.Passed, c.Name));
        Assert.Contains("REFUSE: no engine or room regresses (engine festival", gate.Summary, StringComparison.Ordinal);

        // Side by side in gate.json: engine and room (not voice), and the negative kinds.
        Assert.Equal(["engine", "room"], gate.Breakdown!.FrrBy.Select(t => t.Tag));
        var festival = gate.Breakdown.FrrBy[0].Groups.Single(g => g.Value == "festival");
        Assert.Equal((24L, 2L, 5L), (festival.Keywords, festival.CurrentMissed, festival.CandidateMissed));
        Assert.Equal(["speech", "music"], gate.Breakdown.FaPerHourByKind.Select(k => k.Kind));
        string json = JsonSerializer.Serialize(gate, EvaluationJsonContext.Default.GateReport);
        Assert.Contains("\"candidateMissed\": 5", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Promotes_when_the_extra_misses_stay_within_the_group_slack()
    {
        // festival 2 -> 4: +2 is not more than max(2, 2.4).
        var gate = PromotionGate.Decide(WithBreakdown(Breakdown(3, 2), "1.0.0"), WithBreakdown(Breakdown(1, 4), "1.0.1"));
        Assert.True(gate.Promote, gate.Summary);
        Assert.StartsWith("3 groups of >= 20 keywords, none", gate.Checks.Single(c => c.Name == PromotionGate.GroupCheckName).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_tags_or_with_only_small_groups_the_check_passes_and_says_why()
    {
        var untagged = Breakdown(0, 0);
        untagged = new EvaluationBreakdown
        {
            Threshold = untagged.Threshold,
            Confidence = untagged.Confidence,
            OverallFrr = untagged.OverallFrr,
            OverallFaPerHour = untagged.OverallFaPerHour,
            FrrBy = [],
            FaPerHourByKind = untagged.FaPerHourByKind,
        };
        var none = PromotionGate.GroupRegressionCheck(untagged, untagged);
        Assert.True(none.Passed);
        Assert.Equal("no tagged groups", none.Detail);
        Assert.Equal("no tagged groups", PromotionGate.GroupRegressionCheck(null, null).Detail);

        var small = new EvaluationBreakdown
        {
            Threshold = 0.9f,
            Confidence = 0.95,
            OverallFrr = AccuracyBreakdown.Frr("all", 19, 0),
            OverallFaPerHour = AccuracyBreakdown.Fa("all", 1, 0),
            FrrBy = [new FrrByTag { Tag = "engine", Groups = [AccuracyBreakdown.Frr("flite", 19, 0)] }],
            FaPerHourByKind = [],
        };
        var worse = new EvaluationBreakdown
        {
            Threshold = 0.9f,
            Confidence = 0.95,
            OverallFrr = AccuracyBreakdown.Frr("all", 19, 19),
            OverallFaPerHour = AccuracyBreakdown.Fa("all", 1, 0),
            FrrBy = [new FrrByTag { Tag = "engine", Groups = [AccuracyBreakdown.Frr("flite", 19, 19)] }],
            FaPerHourByKind = [],
        };
        var check = PromotionGate.GroupRegressionCheck(small, worse);
        Assert.True(check.Passed);
        Assert.Equal("no engine or room group has >= 20 keywords (largest: engine flite, 19)", check.Detail);
    }

    [Fact]
    public void Existing_evaluations_of_the_fixture_pass_the_group_check()
    {
        var gate = PromotionGate.Decide(fixture.Baseline, fixture.Baseline);
        var check = gate.Checks.Single(c => c.Name == PromotionGate.GroupCheckName);
        output.WriteLine(check.Detail);
        Assert.True(check.Passed);
    }
}

using System.Text.Json;

namespace EdgeKws.MainJob.Tests;

/// <summary>
/// The summary's <c>loop</c> from per-device evaluator results: the fleet sums the devices' counts, FRR and FA/hour follow the
/// evaluator's definitions, and the target (FRR at most half of production's, FA/hour not higher) is judged on the fleet.
/// </summary>
public sealed class LoopReport_Tests
{
    /// <summary>An <c>edgekws-evaluation/1</c> report's counting fields, as <c>edgekws-model evaluate</c> writes them.</summary>
    private static JsonElement Evaluation(long keywords, long missed, double negativeHours, long falseAccepts) => JsonDocument.Parse($$"""
        { "formatVersion": "edgekws-evaluation/1", "modelVersion": "x", "keywords": {{keywords}}, "missedKeywords": {{missed}},
          "negativeHours": {{negativeHours.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "falseAccepts": {{falseAccepts}},
          "faPerHour": 0, "falseRejectRate": 0 }
        """).RootElement.Clone();

    // Day-2 audio of two devices: 13 + 12 keywords, 0.04 + 0.05 negative hours.
    private static LoopReport Report(long missedBefore1, long missedBefore2, long faBefore, long missedAfter1, long missedAfter2, long faAfter) =>
        LoopReport.Compute(2, "2 devices", "1.3.0",
            [LoopFigures.FromEvaluation("device-02", Evaluation(12, missedBefore2, 0.05, 0)), LoopFigures.FromEvaluation("device-01", Evaluation(13, missedBefore1, 0.04, faBefore))],
            "1.3.1-field.1",
            [LoopFigures.FromEvaluation("device-01", Evaluation(13, missedAfter1, 0.04, faAfter)), LoopFigures.FromEvaluation("device-02", Evaluation(12, missedAfter2, 0.05, 0))],
            afterDeployed: true, "deployed", "hand-made");

    [Fact]
    public void Fleet_sums_the_devices_counts_and_divides_the_sums()
    {
        LoopReport r = Report(missedBefore1: 0, missedBefore2: 12, faBefore: 1, missedAfter1: 0, missedAfter2: 6, faAfter: 1);
        Assert.Equal(["device-01", "device-02"], r.Before.Devices.Select(d => d.DeviceId));
        LoopFigures before = r.Before.Fleet;
        Assert.Null(before.DeviceId);
        Assert.Equal(25, before.Keywords);
        Assert.Equal(12, before.Missed);
        Assert.Equal(12.0 / 25, before.Frr, 12);
        Assert.Equal(0.09, before.NegativeHours, 12);
        Assert.Equal(1, before.FalseAccepts);
        Assert.Equal(1 / 0.09, before.FaPerHour, 9);
        Assert.Equal(1.0, r.Before.Devices.Single(d => d.DeviceId == "device-02").Frr);
        Assert.Equal(25.0, r.Before.Devices.Single(d => d.DeviceId == "device-01").FaPerHour, 9);
        Assert.Equal(6.0 / 25, r.After!.Fleet.Frr, 12);
    }

    [Fact]
    public void Target_is_met_at_exactly_half_the_frr_with_fa_per_hour_not_higher()
    {
        LoopTarget t = Report(0, 12, 1, 0, 6, 1).Target!;
        Assert.True(t.FrrMet);
        Assert.True(t.FaPerHourMet);
        Assert.True(t.Met);
        Assert.Equal(0, t.FrrShortBy);
        Assert.Equal(6.0 / 25, t.MaxFrr, 12);
        Assert.StartsWith("met: FRR 48.0 % -> 24.0 % (target <= 24.0 %: met)", t.Verdict);
    }

    [Fact]
    public void Target_missed_says_by_how_much_for_frr_and_for_fa_per_hour()
    {
        // One keyword too many missed (7 of 25 > 6) and one false accept more.
        LoopTarget t = Report(0, 12, 1, 1, 6, 2).Target!;
        Assert.False(t.Met);
        Assert.False(t.FrrMet);
        Assert.False(t.FaPerHourMet);
        Assert.Equal(1.0 / 25, t.FrrShortBy, 12);
        Assert.Equal(1 / 0.09, t.FaPerHourExcess, 9);
        Assert.Equal("missed: FRR 48.0 % -> 28.0 % (target <= 24.0 %: 4.0 points above); FA/hour 11.1 -> 22.2 (11.1 higher)", t.Verdict);
    }

    [Fact]
    public void Summary_json_has_the_loop_fields_by_their_names()
    {
        var summary = new MainJobSummary { Loop = Report(0, 12, 1, 0, 6, 1) };
        using JsonDocument doc = JsonDocument.Parse(JsonSerializer.Serialize(summary, SummaryReport.JsonOptions));
        JsonElement loop = doc.RootElement.GetProperty("loop");
        Assert.Equal("1.3.0", loop.GetProperty("beforeModel").GetString());
        Assert.Equal("1.3.1-field.1", loop.GetProperty("afterModel").GetString());
        foreach (string side in new[] { "before", "after" })
        {
            JsonElement fleet = loop.GetProperty(side).GetProperty("fleet");
            foreach (string field in new[] { "keywords", "missed", "frr", "negativeHours", "falseAccepts", "faPerHour" })
            {
                Assert.Equal(JsonValueKind.Number, fleet.GetProperty(field).ValueKind);
            }
            Assert.False(fleet.TryGetProperty("deviceId", out _));
            Assert.Equal(["device-01", "device-02"], loop.GetProperty(side).GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("deviceId").GetString()));
        }
        Assert.Equal(25, loop.GetProperty("after").GetProperty("fleet").GetProperty("keywords").GetInt64());
        Assert.True(loop.GetProperty("target").GetProperty("met").GetBoolean());
        Assert.Contains("FRR", SummaryReport.RenderMarkdown(summary));
        Assert.Contains("| **fleet** | after: 1.3.1-field.1 | 25 | 6 | 24.0 |", SummaryReport.RenderMarkdown(summary));
    }

    [Fact]
    public void A_missed_target_says_why_from_the_stage_and_the_near_misses_the_labeler_decided()
    {
        var labels = new LabelFigures { TrueAccepts = 12, NeedsReview = 14 };
        labels.NearMisses = new NearMissFigures { Uploaded = 8, OnKeywords = 6, TrueAccepts = 1, TrueAcceptsOnKeywords = 1, NeedsReview = 7 };
        var missed = new MainJobSummary { Loop = Report(0, 12, 1, 1, 6, 2), Labels = labels, ModelStage = ModelStageKind.Recalibrate };
        string why = SummaryReport.ShortfallLine(missed);
        Assert.Equal("loop shortfall: the model stage 'recalibrate' re-calibrated the production model's activation ranges and kept its weights, so it cannot " +
            "learn a keyword the weights miss; day 1's labels held 12 decided true accepts (keywords production caught) and 1 of the 6 keywords production missed " +
            "that reached the gateway as near misses (7 near misses wait for review)", why);
        Assert.Contains("- " + why, SummaryReport.RenderMarkdown(missed));
        Assert.Contains("near misses (the band below the threshold: how a keyword the model missed reaches the gateway): 8 uploaded, 6 on keywords (ground truth); " +
            "the labeler decided 1 TA (1 on keywords), 0 FA, sent 7 to review", SummaryReport.RenderMarkdown(missed));
        using (JsonDocument doc = JsonDocument.Parse(JsonSerializer.Serialize(missed, SummaryReport.JsonOptions)))
        {
            Assert.Equal("Recalibrate", doc.RootElement.GetProperty("modelStage").GetString());
            JsonElement n = doc.RootElement.GetProperty("labels").GetProperty("nearMisses");
            Assert.Equal((8, 6, 1, 7), (n.GetProperty("uploaded").GetInt32(), n.GetProperty("onKeywords").GetInt32(), n.GetProperty("trueAcceptsOnKeywords").GetInt32(), n.GetProperty("needsReview").GetInt32()));
        }

        // A met target needs no reason.
        var met = new MainJobSummary { Loop = Report(0, 12, 1, 0, 6, 1), Labels = labels };
        Assert.DoesNotContain("loop shortfall", SummaryReport.RenderMarkdown(met));
    }

    [Fact]
    public void Without_a_candidate_the_loop_reports_production_alone()
    {
        LoopReport r = LoopReport.Compute(2, "day 2", "1.3.0", [LoopFigures.FromCounts("device-01", 10, 5, 0.1, 0)], null, null, false,
            "no new model (skipped)", "hand-made");
        Assert.Null(r.After);
        Assert.Null(r.Target);
        Assert.Equal(0.5, r.Before.Fleet.Frr);
        Assert.Contains("loop after: no new model (skipped)", SummaryReport.LoopLines(r));
    }
}

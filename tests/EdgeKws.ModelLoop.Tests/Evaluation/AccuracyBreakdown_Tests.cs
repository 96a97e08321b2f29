using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>The breakdown's counting rules on hand-made segments, detection times and keywords (no audio).</summary>
public class AccuracyBreakdown_Tests
{
    // speech [0, 1000], gap, music [1500, 4000], noise:fan [4000, 6000], gap to 8000.
    private static readonly EvaluationSegment[] Segments =
    [
        new("speech", 0, 1000),
        new("music", 1500, 4000),
        new("noise:fan", 4000, 6000),
    ];

    [Theory]
    [InlineData(500, "speech")]      // inside
    [InlineData(1000, "speech")]     // at the end
    [InlineData(1200, "speech")]     // after the end, within the tolerance, before the next segment starts
    [InlineData(1600, "music")]      // within speech's tolerance too: the latest-starting segment wins
    [InlineData(4000, "noise:fan")]  // music ends where noise starts: the later one
    [InlineData(6900, "noise:fan")]  // 900 ms after the last segment
    [InlineData(7001, "gap")]        // past end + tolerance
    [InlineData(-5, "gap")]          // before every segment (a detection cannot be, but the rule holds)
    public void False_accept_goes_to_the_latest_starting_segment_whose_end_plus_tolerance_covers_it(double timeMs, string kind)
    {
        Assert.Equal(kind, AccuracyBreakdown.KindAt(Segments, timeMs, toleranceMs: 1000));
    }

    [Fact]
    public void Without_tolerance_a_detection_after_a_segment_is_gap_and_without_segments_unlabelled()
    {
        Assert.Equal("gap", AccuracyBreakdown.KindAt(Segments, 1200, toleranceMs: 0));
        Assert.Equal("unlabelled", AccuracyBreakdown.KindAt(null, 1200, 1000));
        Assert.Equal("unlabelled", AccuracyBreakdown.KindAt([], 1200, 1000));
    }

    [Fact]
    public void Hours_per_kind_are_segment_lengths_and_the_rest_is_gap()
    {
        var stream = new EvaluationStream("n", "n.wav", EvaluationStreamKind.Negative, 8000, [], Segments);
        var ms = AccuracyBreakdown.MillisecondsByKind(stream);
        Assert.Equal(1000, ms["speech"]);
        Assert.Equal(2500, ms["music"]);
        Assert.Equal(2000, ms["noise:fan"]);
        Assert.Equal(2500, ms["gap"]);
        Assert.Equal(8000, ms.Values.Sum());
        Assert.Equal(8000, AccuracyBreakdown.MillisecondsByKind(stream with { Segments = null })["unlabelled"]);
    }

    [Fact]
    public void Fa_by_kind_attributes_every_false_accept_and_every_hour_once()
    {
        var labelled = new EvaluationStream("n1", "n1.wav", EvaluationStreamKind.Negative, 8000, [], Segments);
        var unlabelled = new EvaluationStream("n2", "n2.wav", EvaluationStreamKind.Negative, 3_600_000, []);
        var positive = new EvaluationStream("p", "p.wav", EvaluationStreamKind.Positive, 60_000, [new StreamPhrase("hey edge", 1000, 1600)]);
        StreamOutcome[] outcomes =
        [
            new(labelled, [], [500, 1600, 2000, 6900, 7500]),
            new(unlabelled, [], [10, 20]),
            new(positive, [true], [30_000]),
        ];
        var kinds = AccuracyBreakdown.FaByKind(outcomes, positiveBackgroundHours: 0.01, toleranceMs: 1000);

        Assert.Equal(["music", "noise:fan", "speech", "gap", "unlabelled", "positive-background"], kinds.Select(k => k.Kind));
        Assert.Equal([2L, 1, 1, 1, 2, 1], kinds.Select(k => k.FalseAccepts));
        Assert.Equal(8, kinds.Sum(k => k.FalseAccepts));
        Assert.Equal((8000 + 3_600_000) / 3_600_000.0 + 0.01, kinds.Sum(k => k.Hours), 12);
        var music = kinds[0];
        Assert.Equal(2 / (2500 / 3_600_000.0), music.FaPerHour, 9);
        Assert.True(ConfidenceIntervals.TryPoissonRate(2, 2500 / 3_600_000.0, out var ci));
        Assert.Equal((ci.Low, ci.High), (music.FaLow95, music.FaHigh95));
    }

    [Fact]
    public void A_kind_with_no_hours_and_no_false_accepts_is_left_out()
    {
        // Segments cover the whole stream: no gap row.
        var full = new EvaluationStream("n", "n.wav", EvaluationStreamKind.Negative, 2000, [], [new("silence", 0, 1000), new("tv", 1000, 2000)]);
        var kinds = AccuracyBreakdown.FaByKind([new StreamOutcome(full, [], [])], 0, 1000);
        Assert.Equal(["silence", "tv"], kinds.Select(k => k.Kind));
        Assert.All(kinds, k => Assert.Equal(0, k.FaPerHour));
    }

    [Fact]
    public void Frr_groups_cover_every_keyword_with_untagged_ones_last_and_snr_in_numeric_order()
    {
        static StreamPhrase Kw(double at, string? engine, string snr) =>
            new("hey edge", at, at + 500, engine is null ? new Dictionary<string, string> { ["snr"] = snr } : new Dictionary<string, string> { ["engine"] = engine, ["snr"] = snr });
        var phrases = new List<StreamPhrase>
        {
            Kw(1000, "flite", "10 dB"), Kw(5000, "espeak-ng", "0 dB"), Kw(9000, "flite", "clean"), Kw(13000, null, "5 dB"),
            Kw(17000, "espeak-ng", "10 dB"), new("stop", 21000, 21400, new Dictionary<string, string> { ["engine"] = "festival" }),
        };
        var stream = new EvaluationStream("p", "p.wav", EvaluationStreamKind.Positive, 30_000, phrases);
        bool[] detected = [false, true, false, true, true, false];

        var tags = AccuracyBreakdown.FrrByTags([new StreamOutcome(stream, detected, [])], "hey edge");

        Assert.Equal(["engine", "snr"], tags.Select(t => t.Tag));
        var engine = tags[0].Groups;
        // "stop" is not the target keyword: festival has no group.
        Assert.Equal(["espeak-ng", "flite", "(untagged)"], engine.Select(g => g.Value));
        Assert.Equal([2L, 2, 1], engine.Select(g => g.Keywords));
        Assert.Equal([0L, 2, 0], engine.Select(g => g.Missed));
        Assert.Equal(5, engine.Sum(g => g.Keywords));
        Assert.Equal(1.0, engine[1].Frr);
        Assert.True(ConfidenceIntervals.TryWilson(2, 2, out var ci));
        Assert.Equal((ci.Low, ci.High), (engine[1].FrrLow95, engine[1].FrrHigh95));
        Assert.Equal(["0 dB", "5 dB", "10 dB", "clean"], tags[1].Groups.Select(g => g.Value));

        var only = AccuracyBreakdown.FrrByTags([new StreamOutcome(stream, detected, [])], "hey edge", ["room", "engine"]);
        Assert.Equal(["engine"], only.Select(t => t.Tag));
    }

    [Fact]
    public void Operating_point_below_half_fa_per_hour_is_the_highest_fa_at_or_under_it_then_fewest_misses()
    {
        StreamingDetPoint[] curve =
        [
            new(0.5f, 10, 10, 1, 100),  // 1 FA/h
            new(0.7f, 5, 10, 3, 100),   // 0.5 FA/h, 3 missed
            new(0.75f, 5, 10, 2, 100),  // 0.5 FA/h, 2 missed: this one
            new(0.9f, 2, 10, 9, 100),   // 0.2 FA/h
        ];
        Assert.True(AccuracyBreakdown.TryOperatingPointBelow(curve, 0.5, out var p));
        Assert.Equal(0.75f, p.Threshold);
        Assert.False(AccuracyBreakdown.TryOperatingPointBelow(curve.AsSpan(0, 1), 0.5, out _));
    }
}

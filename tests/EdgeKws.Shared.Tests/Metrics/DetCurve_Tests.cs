using EdgeKws.Shared.Metrics;

namespace EdgeKws.Shared.Tests.Metrics;

public sealed class DetCurve_Tests
{
    [Fact]
    public void Computes_every_operating_point_from_scored_trials()
    {
        ScoredTrial[] trials = [new(0.9f, true), new(0.8f, true), new(0.7f, false), new(0.6f, true), new(0.3f, false), new(0.3f, false)];
        Assert.True(DetCurve.TryCompute(trials, negativeHours: 2, out DetPoint[] points, out string why), why);
        // Thresholds: 0.3, 0.6, 0.7, 0.8, 0.9, above 0.9.
        Assert.Equal(6, points.Length);
        Assert.Equal(0.3, points[0].Threshold, 6);
        Assert.Equal((1.0, 0.0), (points[0].FalseAcceptRate, points[0].FalseRejectRate));
        Assert.Equal(1.5, points[0].FaPerHour); // 3 false accepts in 2 h
        DetPoint atSeven = points[2];
        Assert.Equal(0.7, atSeven.Threshold, 6);
        Assert.Equal(1, atSeven.FalseAccepts);
        Assert.Equal(1, atSeven.FalseRejects);
        Assert.Equal(1.0 / 3, atSeven.FalseRejectRate, 12);
        Assert.Equal((0.0, 1.0), (points[^1].FalseAcceptRate, points[^1].FalseRejectRate));
        Assert.True(points[^1].Threshold > 0.9f);
        for (int i = 1; i < points.Length; i++)
        {
            Assert.True(points[i].FalseAcceptRate <= points[i - 1].FalseAcceptRate && points[i].FalseRejectRate >= points[i - 1].FalseRejectRate);
        }
    }

    [Fact]
    public void Leaves_rates_undefined_without_positives_or_duration()
    {
        Assert.True(DetCurve.TryCompute([new(0.5f, false)], 0, out DetPoint[] points, out string why), why);
        Assert.True(double.IsNaN(points[0].FalseRejectRate));
        Assert.True(double.IsNaN(points[0].FaPerHour));
        Assert.False(DetCurve.TryCompute([], 0, out _, out why));
        Assert.Equal("no trials", why);
        Assert.False(DetCurve.TryCompute([new(float.NaN, true)], 0, out _, out why));
        Assert.Contains("non-finite", why, StringComparison.Ordinal);
    }
}

public sealed class DetectionRates_Tests
{
    [Fact]
    public void Fa_per_hour_divides_false_accepts_by_listening_hours()
    {
        Assert.True(DetectionRates.TryFaPerHour(3, 7200, out double fa));
        Assert.Equal(1.5, fa);
        Assert.False(DetectionRates.TryFaPerHour(1, 0, out _));
        var counts = new AcceptCounts(5, 1, 2, 1800).Add(new AcceptCounts(0, 2, 0, 1800));
        Assert.Equal(10, counts.Detections);
        Assert.True(counts.TryFaPerHour(out fa));
        Assert.Equal(3.0, fa);
    }

    [Fact]
    public void Frr_is_misses_over_known_positives()
    {
        Assert.True(DetectionRates.TryFalseRejectRate(2, 50, out double frr));
        Assert.Equal(0.04, frr, 12);
        Assert.False(DetectionRates.TryFalseRejectRate(0, 0, out _));
        Assert.False(DetectionRates.TryFalseRejectRate(6, 5, out _));
    }
}

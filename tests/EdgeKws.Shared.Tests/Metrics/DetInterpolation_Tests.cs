using EdgeKws.Shared.Metrics;

namespace EdgeKws.Shared.Tests.Metrics;

public class DetInterpolation_Tests
{
    // 100 keywords, 10 negative hours. Thresholds ascending: FA falls, FRR rises.
    private static readonly StreamingDetPoint[] Curve =
    [
        new(0.1f, 100, 10, 0, 100),  // 10 FA/h, 0 %
        new(0.5f, 20, 10, 2, 100),   // 2 FA/h, 2 %
        new(0.8f, 5, 10, 10, 100),   // 0.5 FA/h, 10 %
        new(0.9f, 0, 10, 30, 100),   // 0 FA/h, 30 %
    ];

    [Fact]
    public void Point_rates_are_counts_over_hours_and_keywords()
    {
        Assert.Equal(2.0, Curve[1].FaPerHour);
        Assert.Equal(0.02, Curve[1].FalseRejectRate);
        Assert.True(double.IsNaN(new StreamingDetPoint(0.5f, 0, 0, 0, 0).FaPerHour));
        Assert.True(double.IsNaN(new StreamingDetPoint(0.5f, 0, 1, 0, 0).FalseRejectRate));
    }

    [Theory]
    [InlineData(0.02, 2.0)]     // on a point
    [InlineData(0.06, 1.25)]    // halfway between 2 % (2 FA/h) and 10 % (0.5 FA/h)
    [InlineData(0.30, 0.0)]
    [InlineData(0.50, 0.0)]     // beyond the curve's highest FRR: its lowest FA/hour
    public void Fa_per_hour_at_an_frr_is_interpolated_between_neighbouring_points(double frr, double expected)
    {
        Assert.True(DetInterpolation.TryFaPerHourAtFrr(Curve, frr, out double fa));
        Assert.Equal(expected, fa, 9);
    }

    [Fact]
    public void Frr_at_a_fa_per_hour_is_interpolated_and_an_unreachable_target_is_refused()
    {
        Assert.True(DetInterpolation.TryFrrAtFaPerHour(Curve, 1.25, out double frr));
        Assert.Equal(0.06, frr, 9);
        Assert.True(DetInterpolation.TryFrrAtFaPerHour(Curve, 0, out frr));
        Assert.Equal(0.30, frr, 9);
        // No threshold gets below 0 % FRR... and a curve that never reaches 0 FA/hour cannot be read there.
        Assert.False(DetInterpolation.TryFaPerHourAtFrr(Curve, -0.01, out _));
        Assert.False(DetInterpolation.TryFrrAtFaPerHour(Curve[..2], 1.0, out _));
    }

    [Fact]
    public void Dominated_points_do_not_lower_the_envelope_and_non_monotone_curves_use_the_best_threshold()
    {
        // Edge-triggered detectors can fire less at a low threshold (the score never falls back below it):
        // a point with more FA at more FRR must not be used.
        StreamingDetPoint[] curve = [new(0.05f, 60, 10, 20, 100), new(0.3f, 50, 10, 5, 100), new(0.9f, 0, 10, 60, 100)];
        Assert.True(DetInterpolation.TryFaPerHourAtFrr(curve, 0.20, out double fa));
        // Envelope corners: (5 %, 5 FA/h), (60 %, 0): at 20 %: 5 - 5 * 15/55.
        Assert.Equal(5 - 5 * 15.0 / 55, fa, 9);
    }
}

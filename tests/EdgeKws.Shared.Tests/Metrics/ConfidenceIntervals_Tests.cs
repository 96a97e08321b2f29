using EdgeKws.Shared.Metrics;

namespace EdgeKws.Shared.Tests.Metrics;

/// <summary>
/// Golden values from scipy 1.10.1 (Debian's /usr/bin/python3), printed by tools/parity/interval_golden.py:
/// chi2.ppf for the Garwood bounds, binomtest(k, n).proportion_ci(method="wilson"), chi2.ppf and gammainc.
/// </summary>
public class ConfidenceIntervals_Tests
{
    private const double Relative = 1e-6;

    private static void Close(double expected, double actual, string what)
    {
        // Relative agreement; an expected 0 must come out as 0 (up to rounding).
        double tolerance = expected == 0 ? 1e-12 : Relative * Math.Abs(expected);
        Assert.True(Math.Abs(actual - expected) <= tolerance, $"{what}: expected {expected:R}, got {actual:R} (|diff| {Math.Abs(actual - expected):R})");
    }

    [Theory]
    [InlineData(0, 0.0, 3.6888794541139354)]
    [InlineData(1, 0.025317807984289876, 5.571643390938898)]
    [InlineData(2, 0.24220927854396496, 7.22468766772396)]
    [InlineData(5, 1.6234863901184207, 11.66833207932267)]
    [InlineData(20, 12.216519585403944, 30.8883779026746)]
    [InlineData(100, 81.36399125092314, 121.62679379242638)]
    [InlineData(1000, 938.9730184076952, 1063.952136016302)]
    public void Garwood_poisson_interval_matches_scipy_chi2(long k, double low, double high)
    {
        Assert.True(ConfidenceIntervals.TryPoisson(k, out var ci));
        Close(low, ci.Low, $"lower({k})");
        Close(high, ci.High, $"upper({k})");
    }

    [Fact]
    public void Poisson_rate_divides_the_count_interval_by_the_exposure()
    {
        // 1 false accept in 4.51 h: 0.22 FA/hour, 95 % [0.0056, 1.24].
        Assert.True(ConfidenceIntervals.TryPoissonRate(1, 4.51, out var rate));
        Close(0.025317807984289876 / 4.51, rate.Low, "low");
        Close(5.571643390938898 / 4.51, rate.High, "high");
        Assert.False(ConfidenceIntervals.TryPoissonRate(1, 0, out rate));
        Assert.True(double.IsNaN(rate.Low));
        Assert.False(ConfidenceIntervals.TryPoisson(-1, out _));
        Assert.False(ConfidenceIntervals.TryPoisson(3, out _, confidence: 1));
    }

    [Theory]
    [InlineData(0, 10, 0.0, 0.27753279986288926)]
    [InlineData(1, 10, 0.017876213095072896, 0.4041500267952385)]
    [InlineData(5, 120, 0.0179267168801095, 0.09384085233703535)]
    [InlineData(43, 120, 0.2781607905032006, 0.4472946399820988)]
    [InlineData(120, 120, 0.9689808335812965, 1.0)]
    public void Wilson_interval_matches_scipy_binomtest(long k, long n, double low, double high)
    {
        Assert.True(ConfidenceIntervals.TryWilson(k, n, out var ci));
        Close(low, ci.Low, $"low({k}/{n})");
        Close(high, ci.High, $"high({k}/{n})");
        Assert.InRange(k / (double)n, ci.Low, ci.High);
    }

    [Fact]
    public void Wilson_refuses_counts_that_are_not_a_proportion()
    {
        Assert.False(ConfidenceIntervals.TryWilson(0, 0, out var ci));
        Assert.True(double.IsNaN(ci.Low) && double.IsNaN(ci.High));
        Assert.False(ConfidenceIntervals.TryWilson(11, 10, out _));
        Assert.False(ConfidenceIntervals.TryWilson(-1, 10, out _));
        Assert.False(ConfidenceIntervals.TryWilson(1, 10, out _, z: 0));
    }

    [Theory]
    [InlineData(0.5, 1, 0.454936423119572)]
    [InlineData(0.025, 2, 0.05063561596857975)]
    [InlineData(0.975, 2, 7.377758908227871)]
    [InlineData(0.001, 10, 1.4787434638356647)]
    [InlineData(0.999, 10, 29.58829844507442)]
    [InlineData(0.95, 0.5, 2.4202322748895257)]
    [InlineData(1e-09, 3, 2.4179891003586014e-06)]
    [InlineData(0.5, 5000, 4999.33334913811)]
    public void Chi_square_quantile_matches_scipy(double p, double dof, double expected)
    {
        double x = GammaFunctions.ChiSquareQuantile(p, dof);
        Close(expected, x, $"chi2.ppf({p}, {dof})");
        // And it inverts the distribution function it was solved on.
        Assert.Equal(p, GammaFunctions.RegularizedLowerGamma(dof / 2, x / 2), 10);
    }

    [Theory]
    [InlineData(0.5, 0.1, 0.34527915398142317)]
    [InlineData(1, 1, 0.6321205588285577)]
    [InlineData(3, 2.5, 0.45618688411667035)]
    [InlineData(10, 15, 0.9301463393005901)]
    [InlineData(100, 90, 0.15822098918643007)]
    [InlineData(1001, 1064.0, 0.9750847791410248)]
    [InlineData(0.1, 30, 0.9999999999999996)]
    public void Regularized_incomplete_gamma_matches_scipy_gammainc(double a, double x, double expected)
    {
        Close(expected, GammaFunctions.RegularizedLowerGamma(a, x), $"P({a}, {x})");
        Close(1 - expected, 1 - GammaFunctions.RegularizedLowerGamma(a, x), $"1 - P({a}, {x})");
        Assert.Equal(1.0, GammaFunctions.RegularizedLowerGamma(a, x) + GammaFunctions.RegularizedUpperGamma(a, x), 12);
    }

    [Fact]
    public void Quantile_edges_and_bad_arguments_are_stated_not_guessed()
    {
        Assert.Equal(0, GammaFunctions.GammaQuantile(0, 3));
        Assert.Equal(double.PositiveInfinity, GammaFunctions.GammaQuantile(1, 3));
        Assert.True(double.IsNaN(GammaFunctions.GammaQuantile(-0.1, 3)));
        Assert.True(double.IsNaN(GammaFunctions.GammaQuantile(0.5, 0)));
        Assert.True(double.IsNaN(GammaFunctions.RegularizedLowerGamma(-1, 1)));
        Assert.Equal(Math.Log(24), GammaFunctions.LogGamma(5), 12);
        Assert.Equal(0.5 * Math.Log(Math.PI), GammaFunctions.LogGamma(0.5), 12);
    }
}

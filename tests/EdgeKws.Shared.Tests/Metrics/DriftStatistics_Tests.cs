using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Metrics;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Metrics;

/// <summary>PSI and KS over sketch bins, checked against numpy and scipy.stats.ks_2samp on the same samples.</summary>
public sealed class DriftStatistics_Tests(ITestOutputHelper output)
{
    // Tolerances: PSI is the same formula in double precision on the same counts, so 1e-9 absolute.
    // KS on samples that sit on bin centres: binned D equals the raw-sample D exactly (up to 1e-12).
    private const double PsiTolerance = 1e-9;
    private const double ExactKsTolerance = 1e-12;

    private static readonly HistogramLayout Layout = DriftSketchLayout.MfccHigher; // [-25, 25), 32 bins + under/overflow

    private static double[] Normal(int seed, int n, double mean, double sd)
    {
        var rng = new Random(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = mean + (sd * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    // Values moved to the centre of their bin (or just outside the range for under/overflow), so binning loses nothing.
    private static double[] OnBinCentres(double[] x)
    {
        double width = (Layout.Max - Layout.Min) / (double)Layout.InteriorBins;
        return x.Select(v =>
        {
            int bin = Layout.BinOf((float)v);
            return bin == 0 ? Layout.Min - 1.0 : bin == Layout.TotalBins - 1 ? Layout.Max + 1.0 : Layout.Min + ((bin - 0.5) * width);
        }).ToArray();
    }

    private static long[] Bin(double[] x)
    {
        var counts = new long[Layout.TotalBins];
        foreach (double v in x)
        {
            counts[Layout.BinOf((float)v)]++;
        }
        return counts;
    }

    [Theory]
    [InlineData(1, 0.0, 4.0, 0.0, 4.0, 2000, 1500)]  // same distribution
    [InlineData(2, 0.0, 4.0, 1.0, 4.0, 2000, 1500)]  // small mean shift
    [InlineData(3, 0.0, 4.0, 3.0, 5.0, 800, 3000)]   // clear shift and spread change
    [InlineData(4, 0.0, 6.0, -8.0, 9.0, 5000, 400)]  // heavy tails: under/overflow bins and empty bins on one side
    public void Psi_and_ks_match_numpy_and_scipy_on_the_same_samples(int seed, double m0, double s0, double m1, double s1, int n0, int nt)
    {
        double[] baseline = OnBinCentres(Normal(seed, n0, m0, s0));
        double[] current = OnBinCentres(Normal(seed + 100, nt, m1, s1));
        long[] b = Bin(baseline), c = Bin(current);

        Assert.True(DriftStatistics.TryPsi(b, c, out double psi, out string why), why);
        Assert.True(DriftStatistics.TryKs(b, c, out double d, out why), why);
        ScipyReference.Result reference = ScipyReference.Run(baseline, current, b, c, DriftStatistics.DefaultEmptyBinProportion);
        double crit = DriftStatistics.KsCriticalValue(n0, nt);
        output.WriteLine($"scipy {reference.ScipyVersion}: PSI {psi:0.######} (numpy {reference.Psi:0.######}), D {d:0.######} (scipy {reference.KsD:0.######}, p {reference.KsP:0.####}), D_crit {crit:0.####}");

        Assert.Equal(reference.Psi, psi, PsiTolerance);
        Assert.Equal(reference.KsD, d, ExactKsTolerance);
        // The 1.36 critical value is the alpha 0.05 large-sample bound; away from the boundary the decision agrees with scipy's p-value.
        if (Math.Abs(d - crit) > 0.2 * crit)
        {
            Assert.Equal(reference.KsP < 0.05, d > crit);
        }
    }

    [Fact]
    public void Binned_ks_of_continuous_samples_is_within_one_bin_mass_of_scipy()
    {
        double[] baseline = Normal(7, 3000, 0, 5), current = Normal(8, 2500, 1.5, 5);
        long[] b = Bin(baseline), c = Bin(current);
        Assert.True(DriftStatistics.TryKs(b, c, out double d, out string why), why);
        ScipyReference.Result reference = ScipyReference.Run(baseline, current, b, c, DriftStatistics.DefaultEmptyBinProportion);
        // Binning evaluates the CDFs only at bin edges: never above the raw statistic, short of it by at most the largest
        // single-bin proportion of either sample.
        double maxBinMass = Math.Max(b.Max() / (double)b.Sum(), c.Max() / (double)c.Sum());
        output.WriteLine($"binned D {d:0.####}, scipy D {reference.KsD:0.####}, largest bin mass {maxBinMass:0.####}");
        Assert.InRange(reference.KsD - d, -ExactKsTolerance, maxBinMass);
        Assert.True(d > 0.05, "a 0.3 sd shift over 2,500+ samples must show");
    }

    [Fact]
    public void Psi_uses_the_stated_epsilon_for_an_empty_bin()
    {
        long[] baseline = [50, 50, 0], current = [50, 49, 1];
        Assert.True(DriftStatistics.TryPsi(baseline, current, out double psi, out string why), why);
        double e3 = DriftStatistics.DefaultEmptyBinProportion, a3 = 0.01;
        double expected = ((0.49 - 0.5) * Math.Log(0.49 / 0.5)) + ((a3 - e3) * Math.Log(a3 / e3));
        Assert.Equal(expected, psi, 1e-12);
    }

    [Fact]
    public void Critical_value_is_1_36_times_the_root_of_the_sample_size_term()
    {
        Assert.Equal(1.36 * Math.Sqrt(3000.0 / (1000.0 * 2000.0)), DriftStatistics.KsCriticalValue(1000, 2000), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => DriftStatistics.KsCriticalValue(0, 10));
    }

    [Fact]
    public void Refuses_mismatched_or_empty_histograms_with_a_reason()
    {
        Assert.False(DriftStatistics.TryPsi([1, 2], [1, 2, 3], out _, out string why));
        Assert.Contains("differ", why, StringComparison.Ordinal);
        Assert.False(DriftStatistics.TryKs([0, 0], [1, 2], out _, out why));
        Assert.Equal("the baseline has no counts", why);
        Assert.False(DriftStatistics.TryPsi([1, -1], [1, 2], out _, out why));
        Assert.Contains("negative", why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.05, 0.01, 0.05, DriftLevel.None)]
    [InlineData(0.1, 0.01, 0.05, DriftLevel.Warning)]
    [InlineData(0.05, 0.06, 0.05, DriftLevel.Warning)]
    [InlineData(0.25, 0.01, 0.05, DriftLevel.Critical)]
    public void Classifies_by_psi_thresholds_and_ks_rejection(double psi, double d, double crit, DriftLevel expected) =>
        Assert.Equal(expected, DriftStatistics.Classify(psi, d, crit));
}

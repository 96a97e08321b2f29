namespace EdgeKws.Shared.Metrics;

/// <summary>A two-sided confidence interval [<paramref name="Low"/>, <paramref name="High"/>] around an estimate.</summary>
/// <param name="Low">Lower bound.</param>
/// <param name="High">Upper bound.</param>
public readonly record struct ConfidenceInterval(double Low, double High)
{
    /// <summary>The same interval with both bounds divided by <paramref name="divisor"/> (a count's interval as a rate).</summary>
    public ConfidenceInterval DivideBy(double divisor) => new(Low / divisor, High / divisor);
}

/// <summary>
/// Confidence intervals for the two kinds of accuracy figure a keyword spotter reports: a proportion (FRR: k of n
/// keywords missed) and a rate from a count of events (FA/hour: k false accepts in h hours). One FRR or FA/hour
/// from a few hundred keywords or a few hours of audio is an estimate; these say how far off it can be.
/// Pure arithmetic, no allocation.
/// </summary>
public static class ConfidenceIntervals
{
    /// <summary>The two-sided 95 % normal quantile used by default (Φ⁻¹(0.975) = 1.95996398...).</summary>
    public const double Z95 = 1.959964;

    /// <summary>The default confidence level of the Poisson interval.</summary>
    public const double DefaultConfidence = 0.95;

    /// <summary>
    /// Wilson score interval for a proportion of <paramref name="successes"/> in <paramref name="trials"/>:
    /// (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), clamped to [0, 1].
    /// </summary>
    /// <remarks>
    /// Chosen over the textbook p ± z·sqrt(p(1-p)/n), which collapses to [0, 0] at 0 misses and [1, 1] at n of n:
    /// exactly the groups that matter (an engine whose keywords are all missed, a room with none missed). Wilson
    /// stays inside [0, 1] and keeps close to its nominal coverage for small n.
    /// </remarks>
    /// <returns>False when trials &lt;= 0, successes is outside [0, trials] or z is not positive and finite.</returns>
    public static bool TryWilson(long successes, long trials, out ConfidenceInterval interval, double z = Z95)
    {
        if (trials <= 0 || successes < 0 || successes > trials || !(z > 0) || double.IsInfinity(z))
        {
            interval = new ConfidenceInterval(double.NaN, double.NaN);
            return false;
        }
        double n = trials, p = successes / n, z2 = z * z;
        double denominator = 1 + z2 / n;
        double centre = (p + z2 / (2 * n)) / denominator;
        double half = z / denominator * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        // The bounds are exactly 0 and 1 at k = 0 and k = n; rounding must not push them outside.
        double low = successes == 0 ? 0 : Math.Max(0, centre - half);
        double high = successes == trials ? 1 : Math.Min(1, centre + half);
        interval = new ConfidenceInterval(low, high);
        return true;
    }

    /// <summary>
    /// Exact (Garwood) interval for the mean of a Poisson count observed as <paramref name="count"/>:
    /// lower = χ²(α/2; 2k) / 2 (0 when k = 0), upper = χ²(1 - α/2; 2k + 2) / 2, with α = 1 - confidence.
    /// </summary>
    /// <remarks>
    /// "Exact" means the coverage is at least the confidence level for every mean (it is conservative), which is
    /// what a false-accept figure needs: 0 false accepts in 4.5 hours is "below 0.82 per hour", not "0 per hour".
    /// </remarks>
    /// <returns>False when the count is negative or the confidence is not in (0, 1).</returns>
    public static bool TryPoisson(long count, out ConfidenceInterval interval, double confidence = DefaultConfidence)
    {
        if (count < 0 || !(confidence > 0 && confidence < 1))
        {
            interval = new ConfidenceInterval(double.NaN, double.NaN);
            return false;
        }
        double alpha = 1 - confidence;
        // χ²(p; 2k) / 2 is the gamma quantile with shape k: the halving is exact.
        double low = count == 0 ? 0 : GammaFunctions.GammaQuantile(alpha / 2, count);
        double high = GammaFunctions.GammaQuantile(1 - alpha / 2, count + 1);
        interval = new ConfidenceInterval(low, high);
        return double.IsFinite(low) && double.IsFinite(high);
    }

    /// <summary>
    /// <see cref="TryPoisson"/> as a rate: the count's interval divided by the exposure (e.g. false accepts and
    /// hours of negative audio give an FA/hour interval).
    /// </summary>
    /// <returns>False as <see cref="TryPoisson"/>, or when the exposure is not positive and finite.</returns>
    public static bool TryPoissonRate(long count, double exposure, out ConfidenceInterval interval, double confidence = DefaultConfidence)
    {
        if (!(exposure > 0) || double.IsInfinity(exposure) || !TryPoisson(count, out interval, confidence))
        {
            interval = new ConfidenceInterval(double.NaN, double.NaN);
            return false;
        }
        interval = interval.DivideBy(exposure);
        return true;
    }
}

namespace EdgeKws.Shared.Metrics;

/// <summary>How far a distribution has moved from its baseline.</summary>
public enum DriftLevel
{
    /// <summary>Below every threshold (or not computable, see the reason alongside).</summary>
    None = 0,

    /// <summary>PSI at or above <see cref="DriftStatistics.PsiWarning"/>, or KS D above its critical value.</summary>
    Warning = 1,

    /// <summary>PSI at or above <see cref="DriftStatistics.PsiCritical"/>.</summary>
    Critical = 2,
}

/// <summary>
/// Population stability index and the two-sample Kolmogorov-Smirnov statistic over binned counts with identical
/// bin edges (the <see cref="Contracts.DriftSketch"/> layout). Pure arithmetic over spans: no allocation.
/// </summary>
public static class DriftStatistics
{
    /// <summary>PSI at which a feature is reported as drifting (warning).</summary>
    public const double PsiWarning = 0.1;

    /// <summary>PSI at which drift is critical.</summary>
    public const double PsiCritical = 0.25;

    /// <summary>
    /// Proportion used in place of an empty bin's 0 in PSI (whose ln(a/e) is undefined at 0). 1e-4 is the usual
    /// choice: an empty bin on one side against 1 % on the other contributes (0.01 - 0.0001) * ln(100) = 0.046.
    /// </summary>
    public const double DefaultEmptyBinProportion = 1e-4;

    /// <summary>Coefficient of the KS critical value at alpha = 0.05 (large-sample approximation).</summary>
    public const double KsCoefficientAlpha05 = 1.36;

    /// <summary>
    /// PSI = sum over bins of (a - e) * ln(a / e), with e and a the baseline's and the current proportions, and any
    /// proportion of 0 replaced by <paramref name="emptyBinProportion"/> (proportions are not renormalised after the
    /// replacement). False when lengths differ, a count is negative, or either side has no counts.
    /// </summary>
    public static bool TryPsi(ReadOnlySpan<long> baseline, ReadOnlySpan<long> current, out double psi, out string reason,
        double emptyBinProportion = DefaultEmptyBinProportion)
    {
        psi = double.NaN;
        if (!TryTotals(baseline, current, out long n0, out long nt, out reason))
        {
            return false;
        }
        if (!(emptyBinProportion > 0 && emptyBinProportion < 1))
        {
            reason = $"emptyBinProportion must be in (0, 1), got {emptyBinProportion}";
            return false;
        }
        double sum = 0;
        for (int i = 0; i < baseline.Length; i++)
        {
            double e = baseline[i] == 0 ? emptyBinProportion : (double)baseline[i] / n0;
            double a = current[i] == 0 ? emptyBinProportion : (double)current[i] / nt;
            if (baseline[i] == 0 && current[i] == 0)
            {
                continue;
            }
            sum += (a - e) * Math.Log(a / e);
        }
        psi = sum;
        return true;
    }

    /// <summary>
    /// Two-sample KS statistic D = max over bin edges of |F0 - Ft| (the empirical CDFs evaluated after each bin).
    /// For samples whose values fall on fewer distinct points than the bins resolve this equals the raw-sample
    /// statistic; for continuous samples it is a lower bound, short of it by at most the largest bin's proportion.
    /// </summary>
    public static bool TryKs(ReadOnlySpan<long> baseline, ReadOnlySpan<long> current, out double d, out string reason)
    {
        d = double.NaN;
        if (!TryTotals(baseline, current, out long n0, out long nt, out reason))
        {
            return false;
        }
        long c0 = 0, ct = 0;
        double max = 0;
        for (int i = 0; i < baseline.Length; i++)
        {
            c0 += baseline[i];
            ct += current[i];
            double diff = Math.Abs(((double)c0 / n0) - ((double)ct / nt));
            if (diff > max)
            {
                max = diff;
            }
        }
        d = max;
        return true;
    }

    /// <summary>D_crit = 1.36 * sqrt((n0 + nt) / (n0 * nt)): reject "same distribution" at alpha 0.05 when D exceeds it.</summary>
    public static double KsCriticalValue(long n0, long nt)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n0);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nt);
        return KsCoefficientAlpha05 * Math.Sqrt((double)(n0 + nt) / ((double)n0 * nt));
    }

    /// <summary>Level of one feature: PSI thresholds, and at least a warning when KS rejects.</summary>
    public static DriftLevel Classify(double psi, double ksD, double ksCritical)
    {
        if (psi >= PsiCritical)
        {
            return DriftLevel.Critical;
        }
        return psi >= PsiWarning || ksD > ksCritical ? DriftLevel.Warning : DriftLevel.None;
    }

    private static bool TryTotals(ReadOnlySpan<long> baseline, ReadOnlySpan<long> current, out long n0, out long nt, out string reason)
    {
        n0 = 0;
        nt = 0;
        if (baseline.Length != current.Length || baseline.IsEmpty)
        {
            reason = $"bin counts differ ({baseline.Length} baseline, {current.Length} current) or are empty";
            return false;
        }
        for (int i = 0; i < baseline.Length; i++)
        {
            if (baseline[i] < 0 || current[i] < 0)
            {
                reason = $"bin {i} has a negative count";
                return false;
            }
            n0 += baseline[i];
            nt += current[i];
        }
        if (n0 == 0 || nt == 0)
        {
            reason = n0 == 0 ? "the baseline has no counts" : "the current window has no counts";
            return false;
        }
        reason = string.Empty;
        return true;
    }
}

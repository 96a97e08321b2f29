using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Metrics;

/// <summary>Drift of one feature's histogram against its baseline.</summary>
/// <param name="Feature">"mfcc0".."mfcc12", "rmsDbfs", "snrDb" or "score".</param>
/// <param name="Psi">Population stability index (see <see cref="DriftStatistics.TryPsi"/>).</param>
/// <param name="KsD">KS statistic over the bins.</param>
/// <param name="KsCritical">KS critical value at alpha 0.05 for these counts.</param>
/// <param name="BaselineCount">Values in the baseline histogram.</param>
/// <param name="CurrentCount">Values in the current histogram.</param>
/// <param name="Level">Classification.</param>
public readonly record struct FeatureDrift(string Feature, double Psi, double KsD, double KsCritical, long BaselineCount, long CurrentCount, DriftLevel Level);

/// <summary>Shift of a level-like quantity (mean from bin centres, under/overflow counted at the outer edges).</summary>
/// <param name="BaselineMean">Baseline mean.</param>
/// <param name="CurrentMean">Current mean.</param>
public readonly record struct MeanShift(double BaselineMean, double CurrentMean)
{
    /// <summary>Current minus baseline.</summary>
    public double Delta => CurrentMean - BaselineMean;
}

/// <summary>A current window's sketch compared with a baseline sketch.</summary>
/// <param name="Mfcc">One entry per MFCC coefficient (c0..c12).</param>
/// <param name="RmsDbfs">Frame level distribution (volume).</param>
/// <param name="SnrDb">SNR distribution; null when either side has no SNR values.</param>
/// <param name="Score">Score distribution; null when either side has no scores.</param>
/// <param name="VolumeDb">Mean frame RMS, dBFS.</param>
/// <param name="SnrShiftDb">Mean SNR, dB; null when either side has none.</param>
/// <param name="NearFullScaleBaseline">Baseline fraction of frames with RMS at or above <see cref="SketchDrift.NearFullScaleDbfs"/> (a clipping proxy).</param>
/// <param name="NearFullScaleCurrent">Current fraction of such frames.</param>
/// <param name="Level">Worst level over all features.</param>
public sealed record SketchDriftReport(
    FeatureDrift[] Mfcc, FeatureDrift RmsDbfs, FeatureDrift? SnrDb, FeatureDrift? Score,
    MeanShift VolumeDb, MeanShift? SnrShiftDb, double NearFullScaleBaseline, double NearFullScaleCurrent, DriftLevel Level);

/// <summary>
/// Compares <see cref="DriftSketch"/> histograms (merged over a window) with a model's training baseline. Not a hot
/// path: allocates its report.
/// </summary>
public static class SketchDrift
{
    /// <summary>Frames at or above this RMS are "near full scale": the sketch has no peak histogram, so a rise in this
    /// fraction is the clipping signal (a full-scale sine is -3 dBFS RMS; speech peaking at full scale sits around -12..-6).</summary>
    public const float NearFullScaleDbfs = -6f;

    /// <summary>
    /// Compares every histogram. False (with a reason) when the sketches' layouts or feature configurations differ, or
    /// either has no MFCC frames.
    /// </summary>
    public static bool TryCompare(DriftSketch baseline, DriftSketch current, out SketchDriftReport? report, out string reason)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(current);
        report = null;
        if (baseline.LayoutVersion != current.LayoutVersion)
        {
            reason = $"layout {baseline.LayoutVersion} baseline cannot be compared with layout {current.LayoutVersion}";
            return false;
        }
        if (!string.Equals(baseline.FeatureConfigHash, current.FeatureConfigHash, StringComparison.Ordinal))
        {
            reason = $"baseline feature configuration {baseline.FeatureConfigHash} differs from the window's {current.FeatureConfigHash}";
            return false;
        }
        int bins = DriftSketchLayout.MfccHigher.TotalBins;
        var mfcc = new FeatureDrift[DriftSketchLayout.CoefficientCount];
        for (int c = 0; c < mfcc.Length; c++)
        {
            if (!TryFeature("mfcc" + c, baseline.MfccCounts.AsSpan(c * bins, bins), current.MfccCounts.AsSpan(c * bins, bins), out mfcc[c], out reason))
            {
                return false;
            }
        }
        if (!TryFeature("rmsDbfs", baseline.RmsDbfsCounts, current.RmsDbfsCounts, out FeatureDrift rms, out reason))
        {
            return false;
        }
        FeatureDrift? snr = TryFeature("snrDb", baseline.SnrDbCounts, current.SnrDbCounts, out FeatureDrift s, out _) ? s : null;
        FeatureDrift? score = TryFeature("score", baseline.ScoreCounts, current.ScoreCounts, out FeatureDrift sc, out _) ? sc : null;

        DriftLevel level = rms.Level;
        foreach (FeatureDrift f in mfcc)
        {
            level = Max(level, f.Level);
        }
        level = Max(level, snr?.Level ?? DriftLevel.None);
        level = Max(level, score?.Level ?? DriftLevel.None);

        MeanShift volume = new(Mean(DriftSketchLayout.RmsDbfs, baseline.RmsDbfsCounts), Mean(DriftSketchLayout.RmsDbfs, current.RmsDbfsCounts));
        MeanShift? snrShift = snr is null ? null : new MeanShift(Mean(DriftSketchLayout.SnrDb, baseline.SnrDbCounts), Mean(DriftSketchLayout.SnrDb, current.SnrDbCounts));
        report = new SketchDriftReport(mfcc, rms, snr, score, volume, snrShift,
            FractionAtOrAbove(DriftSketchLayout.RmsDbfs, baseline.RmsDbfsCounts, NearFullScaleDbfs),
            FractionAtOrAbove(DriftSketchLayout.RmsDbfs, current.RmsDbfsCounts, NearFullScaleDbfs),
            level);
        reason = string.Empty;
        return true;
    }

    /// <summary>PSI, KS and level of one histogram pair.</summary>
    public static bool TryFeature(string name, ReadOnlySpan<long> baseline, ReadOnlySpan<long> current, out FeatureDrift drift, out string reason)
    {
        drift = default;
        if (!DriftStatistics.TryPsi(baseline, current, out double psi, out reason) || !DriftStatistics.TryKs(baseline, current, out double d, out reason))
        {
            reason = name + ": " + reason;
            return false;
        }
        long n0 = Sum(baseline), nt = Sum(current);
        double crit = DriftStatistics.KsCriticalValue(n0, nt);
        drift = new FeatureDrift(name, psi, d, crit, n0, nt, DriftStatistics.Classify(psi, d, crit));
        return true;
    }

    /// <summary>Mean from bin centres; the underflow bin counts at <see cref="HistogramLayout.Min"/>, the overflow bin at <see cref="HistogramLayout.Max"/>.
    /// NaN for an empty histogram.</summary>
    public static double Mean(HistogramLayout layout, ReadOnlySpan<long> counts)
    {
        double width = (layout.Max - layout.Min) / (double)layout.InteriorBins;
        double sum = 0;
        long n = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            double x = i == 0 ? layout.Min : i == counts.Length - 1 ? layout.Max : layout.Min + ((i - 0.5) * width);
            sum += x * counts[i];
            n += counts[i];
        }
        return n == 0 ? double.NaN : sum / n;
    }

    private static double FractionAtOrAbove(HistogramLayout layout, ReadOnlySpan<long> counts, float threshold)
    {
        int from = layout.BinOf(threshold);
        long above = 0, n = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            n += counts[i];
            if (i >= from)
            {
                above += counts[i];
            }
        }
        return n == 0 ? double.NaN : (double)above / n;
    }

    private static long Sum(ReadOnlySpan<long> counts)
    {
        long n = 0;
        foreach (long c in counts)
        {
            n += c;
        }
        return n;
    }

    private static DriftLevel Max(DriftLevel a, DriftLevel b) => a >= b ? a : b;
}

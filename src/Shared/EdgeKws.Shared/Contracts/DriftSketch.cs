namespace EdgeKws.Shared.Contracts;

/// <summary>
/// A histogram with fixed, uniform bin edges over [<see cref="Min"/>, <see cref="Max"/>) plus an
/// underflow bin (index 0) and an overflow bin (last index). Fixed edges make histograms from any
/// device, any window and the training baseline directly addable and comparable (PSI, KS).
/// </summary>
/// <param name="Min">Lower edge of the first interior bin.</param>
/// <param name="Max">Upper edge of the last interior bin.</param>
/// <param name="InteriorBins">Number of interior bins.</param>
public readonly record struct HistogramLayout(float Min, float Max, int InteriorBins)
{
    /// <summary>Counts per histogram: interior bins plus underflow and overflow.</summary>
    public int TotalBins => InteriorBins + 2;

    /// <summary>Bin of <paramref name="value"/>: 0 below <see cref="Min"/>, last at or above <see cref="Max"/>. NaN counts as overflow
    /// (it is a front-end fault the gateway should see, not a value to drop silently).</summary>
    public int BinOf(float value)
    {
        if (value < Min)
        {
            return 0;
        }
        if (!(value < Max))
        {
            return InteriorBins + 1;
        }
        int bin = (int)((value - Min) / (Max - Min) * InteriorBins);
        return 1 + Math.Min(bin, InteriorBins - 1);
    }

    /// <summary>Lower edge of interior bin <paramref name="interiorIndex"/> (0-based); used to rebuild CDFs for KS.</summary>
    public float LowerEdge(int interiorIndex) => Min + ((Max - Min) * interiorIndex / InteriorBins);
}

/// <summary>
/// The fixed layout of <see cref="DriftSketch"/> v1. Changing any edge changes what a count means:
/// bump <see cref="LayoutVersion"/> and rebuild the training baseline with the new layout.
/// </summary>
public static class DriftSketchLayout
{
    /// <summary>Version of the edges below.</summary>
    public const int LayoutVersion = 1;

    /// <summary>MFCC coefficients per frame (c0..c12).</summary>
    public const int CoefficientCount = 13;

    /// <summary>
    /// c0 (log energy) spans a wider range than the cepstral shape coefficients; 32 bins each.
    /// The ranges cover log-mel (natural log) DCT-II MFCCs of 16-bit speech with margin.
    /// </summary>
    public static readonly HistogramLayout MfccC0 = new(-50f, 50f, 32);

    /// <summary>Layout of c1..c12.</summary>
    public static readonly HistogramLayout MfccHigher = new(-25f, 25f, 32);

    /// <summary>Frame RMS level, dBFS, 2 dB bins.</summary>
    public static readonly HistogramLayout RmsDbfs = new(-100f, 0f, 50);

    /// <summary>Per-utterance SNR estimate, dB, 2 dB bins.</summary>
    public static readonly HistogramLayout SnrDb = new(-10f, 50f, 30);

    /// <summary>Detector score, 0.05 bins.</summary>
    public static readonly HistogramLayout Score = new(0f, 1f, 20);

    /// <summary>Layout of coefficient <paramref name="coefficient"/>.</summary>
    public static HistogramLayout Mfcc(int coefficient) => coefficient == 0 ? MfccC0 : MfccHigher;

    /// <summary>Length of <see cref="DriftSketch.MfccCounts"/> (coefficient-major).</summary>
    public static int MfccCountsLength => CoefficientCount * MfccHigher.TotalBins;
}

/// <summary>
/// Fixed-size, mergeable feature and score histograms for drift monitoring, published on
/// <c>edgekws/v1/{deviceId}/drift</c>. Adding values never allocates (the arrays are sized once);
/// <see cref="Merge"/> adds counts, so it is associative and commutative and the gateway can roll
/// device windows up into hours, days, cohorts in any order.
/// </summary>
public sealed class DriftSketch : IWireMessage
{
    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>Bin edge version (see <see cref="DriftSketchLayout"/>).</summary>
    public int LayoutVersion { get; init; } = DriftSketchLayout.LayoutVersion;

    /// <summary>The device; null in a sketch merged from several devices.</summary>
    public string? DeviceId { get; init; }

    /// <summary>The model that scored; null in a sketch merged across model versions.</summary>
    public string? ModelVersion { get; init; }

    /// <summary>MFCC configuration of the features (SHA-256 text form, see <see cref="Contracts.FeatureConfigHash"/>); sketches of different configurations never merge.</summary>
    public string FeatureConfigHash { get; init; } = string.Empty;

    /// <summary>Start of the covered window (device time, UTC).</summary>
    public DateTimeOffset WindowStartUtc { get; set; }

    /// <summary>End of the covered window (device time, UTC).</summary>
    public DateTimeOffset WindowEndUtc { get; set; }

    /// <summary>MFCC histograms, coefficient-major: counts of coefficient c are at [c * bins, (c + 1) * bins).</summary>
    public long[] MfccCounts { get; init; } = new long[DriftSketchLayout.MfccCountsLength];

    /// <summary>Frame RMS histogram (<see cref="DriftSketchLayout.RmsDbfs"/>).</summary>
    public long[] RmsDbfsCounts { get; init; } = new long[DriftSketchLayout.RmsDbfs.TotalBins];

    /// <summary>SNR histogram (<see cref="DriftSketchLayout.SnrDb"/>).</summary>
    public long[] SnrDbCounts { get; init; } = new long[DriftSketchLayout.SnrDb.TotalBins];

    /// <summary>Score histogram (<see cref="DriftSketchLayout.Score"/>).</summary>
    public long[] ScoreCounts { get; init; } = new long[DriftSketchLayout.Score.TotalBins];

    /// <summary>Adds one MFCC frame (exactly <see cref="DriftSketchLayout.CoefficientCount"/> values). Allocation-free.</summary>
    public void AddMfccFrame(ReadOnlySpan<float> coefficients)
    {
        if (coefficients.Length != DriftSketchLayout.CoefficientCount)
        {
            throw new ArgumentException($"an MFCC frame has {DriftSketchLayout.CoefficientCount} coefficients, got {coefficients.Length}", nameof(coefficients));
        }
        int bins = DriftSketchLayout.MfccHigher.TotalBins;
        for (int c = 0; c < coefficients.Length; c++)
        {
            MfccCounts[(c * bins) + DriftSketchLayout.Mfcc(c).BinOf(coefficients[c])]++;
        }
    }

    /// <summary>Adds one frame RMS level in dBFS.</summary>
    public void AddRmsDbfs(float rmsDbfs) => RmsDbfsCounts[DriftSketchLayout.RmsDbfs.BinOf(rmsDbfs)]++;

    /// <summary>Adds one SNR estimate in dB.</summary>
    public void AddSnrDb(float snrDb) => SnrDbCounts[DriftSketchLayout.SnrDb.BinOf(snrDb)]++;

    /// <summary>Adds one detector score.</summary>
    public void AddScore(float score) => ScoreCounts[DriftSketchLayout.Score.BinOf(score)]++;

    /// <summary>MFCC frames added (the count of coefficient c0's histogram).</summary>
    public long MfccFrameCount()
    {
        long total = 0;
        for (int i = 0; i < DriftSketchLayout.MfccHigher.TotalBins; i++)
        {
            total += MfccCounts[i];
        }
        return total;
    }

    /// <summary>
    /// Sum of two sketches: counts add, the window is the union, device id and model version stay
    /// when both agree and become null otherwise. False (with a reason) when schema, layout or
    /// feature configuration differ, or a count would overflow.
    /// </summary>
    public static bool TryMerge(DriftSketch a, DriftSketch b, out DriftSketch? merged, out string reason)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        merged = null;
        if (a.SchemaVersion != b.SchemaVersion || a.LayoutVersion != b.LayoutVersion)
        {
            reason = $"cannot merge schema/layout {a.SchemaVersion}/{a.LayoutVersion} with {b.SchemaVersion}/{b.LayoutVersion}";
            return false;
        }
        if (!string.Equals(a.FeatureConfigHash, b.FeatureConfigHash, StringComparison.Ordinal))
        {
            reason = $"cannot merge feature configurations {a.FeatureConfigHash} and {b.FeatureConfigHash}: their bins mean different things";
            return false;
        }
        var result = new DriftSketch
        {
            SchemaVersion = a.SchemaVersion,
            LayoutVersion = a.LayoutVersion,
            DeviceId = string.Equals(a.DeviceId, b.DeviceId, StringComparison.Ordinal) ? a.DeviceId : null,
            ModelVersion = string.Equals(a.ModelVersion, b.ModelVersion, StringComparison.Ordinal) ? a.ModelVersion : null,
            FeatureConfigHash = a.FeatureConfigHash,
            WindowStartUtc = a.WindowStartUtc <= b.WindowStartUtc ? a.WindowStartUtc : b.WindowStartUtc,
            WindowEndUtc = a.WindowEndUtc >= b.WindowEndUtc ? a.WindowEndUtc : b.WindowEndUtc,
        };
        if (!(AddCounts("mfccCounts", a.MfccCounts, b.MfccCounts, result.MfccCounts, out reason)
            && AddCounts("rmsDbfsCounts", a.RmsDbfsCounts, b.RmsDbfsCounts, result.RmsDbfsCounts, out reason)
            && AddCounts("snrDbCounts", a.SnrDbCounts, b.SnrDbCounts, result.SnrDbCounts, out reason)
            && AddCounts("scoreCounts", a.ScoreCounts, b.ScoreCounts, result.ScoreCounts, out reason)))
        {
            return false;
        }
        merged = result;
        return true;
    }

    /// <summary><see cref="TryMerge"/> that throws <see cref="ArgumentException"/> with the reason.</summary>
    public static DriftSketch Merge(DriftSketch a, DriftSketch b) =>
        TryMerge(a, b, out DriftSketch? merged, out string reason) ? merged! : throw new ArgumentException(reason);

    /// <inheritdoc />
    public bool TryValidate(out string reason)
    {
        if (!(Check.Schema(SchemaVersion, out reason)
            && (DeviceId is null || Check.DeviceId(DeviceId, out reason))
            && Check.Text("modelVersion", ModelVersion, WireLimits.MaxModelVersionLength, required: false, out reason)
            && Check.ConfigHash("featureConfigHash", FeatureConfigHash, out reason)
            && Check.Time("windowStartUtc", WindowStartUtc, out reason)
            && Check.Time("windowEndUtc", WindowEndUtc, out reason)))
        {
            return false;
        }
        if (LayoutVersion != DriftSketchLayout.LayoutVersion)
        {
            reason = $"layoutVersion {LayoutVersion} is not supported (supported: {DriftSketchLayout.LayoutVersion})";
            return false;
        }
        if (WindowEndUtc < WindowStartUtc)
        {
            reason = $"windowEndUtc {WindowEndUtc:O} is before windowStartUtc {WindowStartUtc:O}";
            return false;
        }
        return CheckCounts("mfccCounts", MfccCounts, DriftSketchLayout.MfccCountsLength, out reason)
            && CheckCounts("rmsDbfsCounts", RmsDbfsCounts, DriftSketchLayout.RmsDbfs.TotalBins, out reason)
            && CheckCounts("snrDbCounts", SnrDbCounts, DriftSketchLayout.SnrDb.TotalBins, out reason)
            && CheckCounts("scoreCounts", ScoreCounts, DriftSketchLayout.Score.TotalBins, out reason)
            && CheckMfccRows(out reason);
    }

    private bool CheckMfccRows(out string reason)
    {
        // Every frame adds one count to each coefficient's row, so all rows have the same total.
        int bins = DriftSketchLayout.MfccHigher.TotalBins;
        long first = MfccFrameCount();
        for (int c = 1; c < DriftSketchLayout.CoefficientCount; c++)
        {
            long total = 0;
            for (int i = 0; i < bins; i++)
            {
                total += MfccCounts[(c * bins) + i];
            }
            if (total != first)
            {
                reason = $"mfccCounts row {c} totals {total} but row 0 totals {first}; every frame adds to every row";
                return false;
            }
        }
        reason = string.Empty;
        return true;
    }

    private static bool CheckCounts(string field, long[]? counts, int expectedLength, out string reason)
    {
        if (counts is null || counts.Length != expectedLength)
        {
            reason = $"{field} has {counts?.Length ?? 0} bins, layout {DriftSketchLayout.LayoutVersion} has {expectedLength}";
            return false;
        }
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] < 0)
            {
                reason = $"{field}[{i}] is negative ({counts[i]})";
                return false;
            }
        }
        reason = string.Empty;
        return true;
    }

    private static bool AddCounts(string field, long[] a, long[] b, long[] into, out string reason)
    {
        if (a.Length != into.Length || b.Length != into.Length)
        {
            reason = $"{field} lengths {a.Length} and {b.Length} do not match the layout's {into.Length}";
            return false;
        }
        for (int i = 0; i < into.Length; i++)
        {
            long sum = a[i] + b[i];
            if (((a[i] ^ sum) & (b[i] ^ sum)) < 0)
            {
                reason = $"{field}[{i}] overflows when merging";
                return false;
            }
            into[i] = sum;
        }
        reason = string.Empty;
        return true;
    }
}

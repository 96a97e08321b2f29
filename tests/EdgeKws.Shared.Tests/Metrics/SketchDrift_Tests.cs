using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.Shared.Tests.Metrics;

public sealed class SketchDrift_Tests
{
    private const string Hash = "0000000000000000000000000000000000000000000000000000000000000001";

    private static DriftSketch Sketch(int seed, float mfccShift, float levelDbfs, float snrDb, int frames = 4000)
    {
        var rng = new Random(seed);
        var s = new DriftSketch { FeatureConfigHash = Hash, WindowStartUtc = DateTimeOffset.UnixEpoch.AddYears(56), WindowEndUtc = DateTimeOffset.UnixEpoch.AddYears(56).AddHours(1) };
        Span<float> frame = stackalloc float[DriftSketchLayout.CoefficientCount];
        for (int i = 0; i < frames; i++)
        {
            for (int c = 0; c < frame.Length; c++)
            {
                frame[c] = (float)((rng.NextDouble() - 0.5) * 20) + (c == 3 ? mfccShift : 0f);
            }
            s.AddMfccFrame(frame);
            s.AddRmsDbfs(levelDbfs + (float)((rng.NextDouble() - 0.5) * 10));
            if (i % 20 == 0)
            {
                s.AddSnrDb(snrDb + (float)((rng.NextDouble() - 0.5) * 6));
            }
        }
        return s;
    }

    [Fact]
    public void Reports_no_drift_for_the_same_distribution()
    {
        Assert.True(SketchDrift.TryCompare(Sketch(1, 0, -30, 25), Sketch(2, 0, -30, 25), out SketchDriftReport? r, out string why), why);
        Assert.Equal(DriftLevel.None, r!.Level);
        Assert.All(r.Mfcc, f => Assert.True(f.Psi < DriftStatistics.PsiWarning, $"{f.Feature} PSI {f.Psi}"));
        Assert.InRange(r.VolumeDb.Delta, -0.5, 0.5);
    }

    [Fact]
    public void Flags_the_shifted_coefficient_and_measures_volume_snr_and_near_full_scale_shifts()
    {
        Assert.True(SketchDrift.TryCompare(Sketch(1, 0, -30, 25), Sketch(2, 8, -6, 12), out SketchDriftReport? r, out string why), why);
        Assert.Equal(DriftLevel.Critical, r!.Level);
        Assert.Equal("mfcc3", r.Mfcc.MaxBy(f => f.Psi).Feature);
        Assert.True(r.Mfcc[3].Psi >= DriftStatistics.PsiCritical);
        Assert.True(r.Mfcc[5].Psi < DriftStatistics.PsiWarning);
        Assert.InRange(r.VolumeDb.Delta, 22, 26);       // -30 -> -6 dBFS
        Assert.InRange(r.SnrShiftDb!.Value.Delta, -15, -11); // 25 -> 12 dB
        Assert.Equal(0, r.NearFullScaleBaseline);
        Assert.InRange(r.NearFullScaleCurrent, 0.4, 0.6); // half of -6 +- 5 dBFS is at or above -6
    }

    [Fact]
    public void Refuses_sketches_of_different_feature_configurations()
    {
        DriftSketch other = Sketch(2, 0, -30, 25);
        var foreign = new DriftSketch { FeatureConfigHash = Hash.Replace('1', '2'), MfccCounts = other.MfccCounts, RmsDbfsCounts = other.RmsDbfsCounts };
        Assert.False(SketchDrift.TryCompare(Sketch(1, 0, -30, 25), foreign, out _, out string why));
        Assert.Contains("feature configuration", why, StringComparison.Ordinal);
    }
}

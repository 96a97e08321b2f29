using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Diagnostics;

namespace EdgeKws.Shared.Tests.Contracts;

public class DriftSketch_Tests
{
    private static byte[] Canon(DriftSketch s) => WireJson.Serialize(s);

    [Fact]
    public void Merge_is_commutative()
    {
        for (int i = 0; i < 20; i++)
        {
            DriftSketch a = Samples.Sketch(i, deviceId: "dev-" + (i % 3));
            DriftSketch b = Samples.Sketch(i + 100, deviceId: "dev-" + (i % 2));
            Assert.Equal(Canon(DriftSketch.Merge(a, b)), Canon(DriftSketch.Merge(b, a)));
        }
    }

    [Fact]
    public void Merge_is_associative()
    {
        for (int i = 0; i < 20; i++)
        {
            DriftSketch a = Samples.Sketch(i, deviceId: "dev-a", model: "m1");
            DriftSketch b = Samples.Sketch(i + 50, deviceId: i % 2 == 0 ? "dev-a" : "dev-b", model: "m1");
            DriftSketch c = Samples.Sketch(i + 90, deviceId: "dev-a", model: i % 3 == 0 ? "m2" : "m1");
            Assert.Equal(Canon(DriftSketch.Merge(DriftSketch.Merge(a, b), c)), Canon(DriftSketch.Merge(a, DriftSketch.Merge(b, c))));
        }
    }

    [Fact]
    public void Merge_adds_counts_unions_windows_and_drops_disagreeing_identities()
    {
        DriftSketch a = Samples.Sketch(1, deviceId: "dev-a");
        DriftSketch b = Samples.Sketch(5, deviceId: "dev-b");
        DriftSketch m = DriftSketch.Merge(a, b);
        Assert.Equal(a.MfccFrameCount() + b.MfccFrameCount(), m.MfccFrameCount());
        Assert.Equal(a.ScoreCounts.Sum() + b.ScoreCounts.Sum(), m.ScoreCounts.Sum());
        Assert.Equal(a.WindowStartUtc, m.WindowStartUtc);
        Assert.Equal(b.WindowEndUtc, m.WindowEndUtc);
        Assert.Null(m.DeviceId);
        Assert.Equal("kws-1.2.0", m.ModelVersion);
        Assert.True(m.TryValidate(out string reason), reason);
    }

    [Fact]
    public void Merge_refuses_sketches_of_different_feature_configurations()
    {
        DriftSketch a = Samples.Sketch(1);
        var b = new DriftSketch { FeatureConfigHash = new string('f', FeatureConfigHash.TextLength), WindowStartUtc = Samples.Now, WindowEndUtc = Samples.Now };
        Assert.False(DriftSketch.TryMerge(a, b, out DriftSketch? merged, out string reason));
        Assert.Null(merged);
        Assert.Contains("cannot merge feature configurations", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Merge_refuses_to_overflow_a_count()
    {
        DriftSketch a = Samples.Sketch(1);
        DriftSketch b = Samples.Sketch(2);
        a.ScoreCounts[3] = long.MaxValue;
        b.ScoreCounts[3] = 1;
        Assert.False(DriftSketch.TryMerge(a, b, out _, out string reason));
        Assert.Equal("scoreCounts[3] overflows when merging", reason);
    }

    [Fact]
    public void Bins_values_by_the_fixed_edges_with_underflow_and_overflow()
    {
        HistogramLayout score = DriftSketchLayout.Score;
        Assert.Equal(0, score.BinOf(-0.01f));
        Assert.Equal(1, score.BinOf(0f));
        Assert.Equal(1, score.BinOf(0.0499f));
        Assert.Equal(2, score.BinOf(0.05f));
        Assert.Equal(20, score.BinOf(0.9999f));
        Assert.Equal(21, score.BinOf(1f));
        Assert.Equal(21, score.BinOf(float.NaN));
        Assert.Equal(0.5f, score.LowerEdge(10), 6);
    }

    [Fact]
    public void Adds_an_mfcc_frame_to_every_coefficient_row()
    {
        var s = new DriftSketch { FeatureConfigHash = Samples.Hash, WindowStartUtc = Samples.Now, WindowEndUtc = Samples.Now };
        float[] frame = new float[13];
        frame[0] = 100f; // c0 overflow
        s.AddMfccFrame(frame);
        int bins = DriftSketchLayout.MfccHigher.TotalBins;
        Assert.Equal(1, s.MfccCounts[bins - 1]);
        Assert.Equal(1, s.MfccCounts[bins + DriftSketchLayout.MfccHigher.BinOf(0f)]);
        Assert.Equal(13, s.MfccCounts.Sum());
        Assert.Throws<ArgumentException>(() => s.AddMfccFrame(new float[12]));
    }

    [Fact]
    public void Adding_values_allocates_nothing()
    {
        DriftSketch s = Samples.Sketch(1);
        float[] frame = new float[13];
        s.AddMfccFrame(frame);
        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                s.AddMfccFrame(frame);
                s.AddRmsDbfs(-30f);
                s.AddSnrDb(20f);
                s.AddScore(0.5f);
            }
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Validation_refuses_a_truncated_or_uppercase_feature_config_hash_by_field_name()
    {
        Assert.True(Samples.Sketch(1).TryValidate(out string ok), ok);

        Assert.False(WithHash(Samples.Sketch(1), Samples.OldHash).TryValidate(out string reason));
        Assert.Contains("featureConfigHash must be the SHA-256 as 64 lowercase hex digits, got 16 characters", reason, StringComparison.Ordinal);

        string upper = Samples.Hash.ToUpperInvariant();
        int firstLetter = upper.AsSpan().IndexOfAnyInRange('A', 'F');
        Assert.False(WithHash(Samples.Sketch(1), upper).TryValidate(out reason));
        Assert.Contains($"featureConfigHash must be 64 lowercase hex digits, got '{upper[firstLetter]}' at position {firstLetter}", reason, StringComparison.Ordinal);
    }

    private static DriftSketch WithHash(DriftSketch s, string hash) => new()
    {
        DeviceId = s.DeviceId,
        ModelVersion = s.ModelVersion,
        FeatureConfigHash = hash,
        WindowStartUtc = s.WindowStartUtc,
        WindowEndUtc = s.WindowEndUtc,
        MfccCounts = s.MfccCounts,
        RmsDbfsCounts = s.RmsDbfsCounts,
        SnrDbCounts = s.SnrDbCounts,
        ScoreCounts = s.ScoreCounts,
    };

    [Fact]
    public void Validation_rejects_wrong_bin_counts_and_unequal_rows()
    {
        var shortRows = new DriftSketch
        {
            FeatureConfigHash = Samples.Hash,
            WindowStartUtc = Samples.Now,
            WindowEndUtc = Samples.Now,
            ScoreCounts = new long[5],
        };
        Assert.False(shortRows.TryValidate(out string reason));
        Assert.Contains("scoreCounts has 5 bins, layout 1 has 22", reason, StringComparison.Ordinal);

        DriftSketch s = Samples.Sketch(2);
        s.MfccCounts[DriftSketchLayout.MfccHigher.TotalBins * 4] += 1;
        Assert.False(s.TryValidate(out reason));
        Assert.Contains("row 4", reason, StringComparison.Ordinal);
    }
}

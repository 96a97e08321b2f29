using EdgeKws.Shared.Diagnostics;
using EdgeKws.Shared.Features;

namespace EdgeKws.Shared.Tests.Features;

public sealed class MfccQuantizer_Tests
{
    [Theory]
    [InlineData(1.0, 0)]
    [InlineData(0.5, -20)]
    [InlineData(0.8470588235294118, 7)]
    [InlineData(0.0313, 100)]
    public void Round_trip_error_is_at_most_half_a_step_inside_the_range(double scale, int zeroPoint)
    {
        double low = (sbyte.MinValue - zeroPoint) * scale, high = (sbyte.MaxValue - zeroPoint) * scale;
        var rng = new Random(11);
        var features = new float[13 * 100];
        for (int i = 0; i < features.Length; i++)
        {
            features[i] = (float)(low + (high - low) * rng.NextDouble());
        }

        var q = new sbyte[features.Length];
        var back = new float[features.Length];
        MfccQuantizer.Quantize(features, q, scale, zeroPoint);
        MfccQuantizer.Dequantize(q, back, scale, zeroPoint);

        double worst = 0;
        for (int i = 0; i < features.Length; i++)
        {
            // Measured on the exact dequantized value (q - zp) * scale.
            worst = Math.Max(worst, Math.Abs(features[i] - (q[i] - zeroPoint) * scale));
            Assert.Equal((float)((q[i] - zeroPoint) * scale), back[i]);
        }

        Assert.True(worst <= scale / 2, $"worst round-trip error {worst} exceeds scale/2 = {scale / 2}");
    }

    [Fact]
    public void Real_features_round_trip_within_half_a_step_with_calibrated_parameters()
    {
        float[] features = MfccFixtures.Extract(MfccConfig.Default, MfccFixtures.MixedAudio(16000 * 3));
        (double scale, int zeroPoint) = MfccQuantizer.ComputeParameters(features);
        MfccConfig config = MfccConfig.Default with { Int8Scale = scale, Int8ZeroPoint = zeroPoint };
        config.Validate();

        var q = new sbyte[features.Length];
        var back = new float[features.Length];
        MfccQuantizer.Quantize(config, features, q);
        MfccQuantizer.Dequantize(config, q, back);

        for (int i = 0; i < features.Length; i++)
        {
            Assert.True(Math.Abs(features[i] - (q[i] - zeroPoint) * scale) <= scale / 2, $"feature {i}: {features[i]} -> {q[i]}");
        }
    }

    [Fact]
    public void Quantize_rounds_half_to_even_and_saturates_like_onnx_quantizelinear()
    {
        float[] x = [0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000f, -1000f, 0f];
        var q = new sbyte[x.Length];

        MfccQuantizer.Quantize(x, q, 1.0, 3);

        Assert.Equal(new sbyte[] { 3, 5, 5, 3, 1, 127, -128, 3 }, q);
    }

    [Fact]
    public void ComputeParameters_maps_the_calibration_range_onto_all_256_codes_with_zero_exact()
    {
        (double scale, int zeroPoint) = MfccQuantizer.ComputeParameters([-100f, 3f, 155f]);

        Assert.Equal(1.0, scale, 12);
        Assert.Equal(-28, zeroPoint);
        var q = new sbyte[3];
        MfccQuantizer.Quantize([-100f, 0f, 155f], q, scale, zeroPoint);
        Assert.Equal(new sbyte[] { -128, -28, 127 }, q);
    }

    [Fact]
    public void ComputeParameters_includes_zero_for_one_sided_ranges()
    {
        (double scale, int zeroPoint) = MfccQuantizer.ComputeParameters(10.0, 51.0);

        Assert.Equal(51.0 / 255, scale, 12);
        Assert.Equal(-128, zeroPoint);
    }

    [Fact]
    public void Quantize_and_dequantize_allocate_nothing()
    {
        var features = new float[98 * 13];
        var q = new sbyte[features.Length];
        var back = new float[features.Length];
        MfccQuantizer.Quantize(MfccConfig.Default, features, q);
        MfccQuantizer.Dequantize(MfccConfig.Default, q, back);

        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                MfccQuantizer.Quantize(features, q, 0.5, 1);
                MfccQuantizer.Dequantize(q, back, 0.5, 1);
            }
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Rejects_bad_parameters_and_short_buffers_with_specific_errors()
    {
        var features = new float[26];

        Assert.Contains("scale must be finite and > 0", Assert.Throws<ArgumentOutOfRangeException>(() => MfccQuantizer.Quantize(features, new sbyte[26], 0, 0)).Message);
        Assert.Contains("zero point must be within", Assert.Throws<ArgumentOutOfRangeException>(() => MfccQuantizer.Quantize(features, new sbyte[26], 1, 200)).Message);
        Assert.Contains("at least 26 values", Assert.Throws<ArgumentException>(() => MfccQuantizer.Quantize(features, new sbyte[13], 1, 0)).Message);
        Assert.Contains("at least one feature", Assert.Throws<ArgumentException>(() => MfccQuantizer.ComputeParameters(ReadOnlySpan<float>.Empty)).Message);
        Assert.Contains("not finite", Assert.Throws<ArgumentException>(() => MfccQuantizer.ComputeParameters([1f, float.NaN])).Message);
    }
}

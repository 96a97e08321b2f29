using EdgeKws.ModelLoop.Quantization;

namespace EdgeKws.ModelLoop.Tests.Quantization;

public class QuantMath_Tests
{
    [Fact]
    public void Relu_range_maps_zero_to_minus_128_so_saturation_is_the_relu()
    {
        var q = QuantMath.Activation(new TensorRange(0f, 5.1f));
        Assert.Equal(-128, q.ZeroPoint);
        Assert.Equal(0.02f, q.Scale, 6);
        Assert.Equal(-128, QuantMath.Quantize(-3f, q));
        Assert.Equal(127, QuantMath.Quantize(5.1f, q));
    }

    [Fact]
    public void Activation_range_is_widened_to_include_zero_exactly()
    {
        var q = QuantMath.Activation(new TensorRange(2f, 10f));
        Assert.Equal(-128, q.ZeroPoint);
        var n = QuantMath.Activation(new TensorRange(-10f, -2f));
        Assert.Equal(127, n.ZeroPoint);
        var m = QuantMath.Activation(new TensorRange(-1f, 3f));
        Assert.Equal(0f, m.Scale * (QuantMath.Quantize(0f, m) - m.ZeroPoint));
    }

    [Fact]
    public void Per_channel_weights_along_axis_1_use_each_columns_max()
    {
        // Gemm B without transB: [K=2, N=3], channels along axis 1.
        float[] w = [1f, -4f, 0f, -0.5f, 2f, 0f];
        var (codes, scales) = QuantMath.PerChannelWeights(w, [2, 3], axis: 1, codeMax: 127);
        Assert.Equal([1f / 127f, 4f / 127f, 1f], scales);
        Assert.Equal(new sbyte[] { 127, -127, 0, -64, 64, 0 }, codes);
    }

    [Fact]
    public void Weight_codes_stay_within_7_bits_by_default_so_x86_without_vnni_cannot_saturate()
    {
        float[] w = [1f, -4f, 0f, -0.5f, 2f, 0f];
        var (codes, scales) = QuantMath.PerChannelWeights(w, [2, 3], axis: 1);
        Assert.Equal(63, QuantMath.PortableWeightCodeMax);
        Assert.Equal([1f / 63f, 4f / 63f, 1f], scales);
        // 0.5 / (1/63) is 31.5 in exact arithmetic; the float scale is a hair above 1/63, so it rounds to 31.
        Assert.Equal(new sbyte[] { 63, -63, 0, -31, 31, 0 }, codes);
        // The int16 pair sum of x86's u8 x s8 kernel: two products of the largest shifted activation and weight fit.
        Assert.True(2 * 255 * QuantMath.PortableWeightCodeMax <= short.MaxValue);
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantMath.PerChannelWeights(w, [2, 3], axis: 1, codeMax: 128));
    }
}

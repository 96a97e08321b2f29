namespace EdgeKws.ModelLoop.Quantization;

/// <summary>Scale and zero point of one per-tensor activation: real = Scale * (q - ZeroPoint), q in [-128, 127].</summary>
public readonly record struct ActivationQuantization(float Scale, sbyte ZeroPoint);

/// <summary>Observed range of one activation tensor over the calibration windows.</summary>
public readonly record struct TensorRange(float Min, float Max);

/// <summary>
/// The quantization arithmetic, in one place so the quantizer and its tests agree:
/// S8 asymmetric per-tensor activations, S8 symmetric per-channel weights, int32 biases.
/// Rounding is ONNX QuantizeLinear's: half to even, then saturate.
/// </summary>
public static class QuantMath
{
    /// <summary>
    /// Activation parameters for [min, max]: the range is widened to include 0 (so 0 is exact, as
    /// zero padding and ReLU need), then mapped onto all 256 int8 codes. A range [0, max] gets
    /// zero point -128, which makes a following ReLU a no-op of the quantizer's saturation.
    /// </summary>
    public static ActivationQuantization Activation(TensorRange range)
    {
        double lo = Math.Min(0.0, range.Min);
        double hi = Math.Max(0.0, range.Max);
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) throw new ArgumentException($"activation range [{range.Min}, {range.Max}] is not finite");
        if (hi - lo < 1e-12) return new ActivationQuantization(1f, 0);
        float scale = (float)((hi - lo) / 255.0);
        double zp = Math.Round(-128.0 - lo / scale, MidpointRounding.ToEven);
        return new ActivationQuantization(scale, (sbyte)Math.Clamp(zp, -128, 127));
    }

    /// <summary>
    /// Largest weight code the quantizer writes (7 bits, ONNX Runtime's "reduce range"). Why not 127: x86 CPUs without VNNI
    /// (AVX2 only) run ONNX Runtime's int8 convolutions as unsigned x signed byte pairs summed in int16 (VPMADDUBSW), the
    /// activations shifted to 0..255; two products of 255 x 127 overflow that sum and saturate, so the gateway (x86) computed
    /// another function than the device (arm64), which has no such sum. 2 x 255 x 63 = 32,130 fits: every CPU computes the same
    /// posteriors. Measured on the tiny test model on such a CPU: arg-max agreement with float 96.8 % at 127, 98.9 % at 63.
    /// </summary>
    public const int PortableWeightCodeMax = 63;

    /// <summary>
    /// Per-channel symmetric S8 weights along <paramref name="axis"/> of a tensor of shape
    /// <paramref name="dims"/>: scale_c = max|w_c| / codeMax, codes in [-codeMax, codeMax] (never -128, so the
    /// range is symmetric and the zero point is 0). An all-zero channel gets scale 1. codeMax 127 rebuilds models
    /// quantized before <see cref="PortableWeightCodeMax"/> (hey-edge 1.3.0).
    /// </summary>
    public static (sbyte[] Codes, float[] Scales) PerChannelWeights(ReadOnlySpan<float> weights, ReadOnlySpan<long> dims, int axis,
        int codeMax = PortableWeightCodeMax)
    {
        if (codeMax is < 1 or > 127) throw new ArgumentOutOfRangeException(nameof(codeMax), codeMax, "weight codes must be in 1..127");
        if (axis < 0 || axis >= dims.Length) throw new ArgumentOutOfRangeException(nameof(axis), axis, $"axis outside a rank-{dims.Length} tensor");
        long channels = dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.Length; i++) inner *= dims[i];
        long outer = weights.Length / (channels * inner);
        var scales = new float[channels];
        var amax = new double[channels];
        for (long o = 0; o < outer; o++)
            for (long c = 0; c < channels; c++)
                for (long k = 0; k < inner; k++)
                    amax[c] = Math.Max(amax[c], Math.Abs(weights[(int)((o * channels + c) * inner + k)]));
        for (int c = 0; c < channels; c++) scales[c] = amax[c] > 0 ? (float)(amax[c] / codeMax) : 1f;
        var codes = new sbyte[weights.Length];
        for (long o = 0; o < outer; o++)
            for (long c = 0; c < channels; c++)
                for (long k = 0; k < inner; k++)
                {
                    int i = (int)((o * channels + c) * inner + k);
                    codes[i] = (sbyte)Math.Clamp(Math.Round(weights[i] / (double)scales[c], MidpointRounding.ToEven), -codeMax, codeMax);
                }
        return (codes, scales);
    }

    /// <summary>
    /// Bias as int32 with scale_c = inputScale * weightScale_c (computed in float32, as ONNX Runtime's
    /// QLinearConv fusion expects) and zero point 0.
    /// </summary>
    public static (int[] Codes, float[] Scales) Bias(ReadOnlySpan<float> bias, float inputScale, ReadOnlySpan<float> weightScales)
    {
        if (bias.Length != weightScales.Length) throw new ArgumentException($"bias has {bias.Length} values for {weightScales.Length} weight channels");
        var codes = new int[bias.Length];
        var scales = new float[bias.Length];
        for (int c = 0; c < bias.Length; c++)
        {
            scales[c] = inputScale * weightScales[c];
            double q = Math.Round(bias[c] / (double)scales[c], MidpointRounding.ToEven);
            codes[c] = (int)Math.Clamp(q, int.MinValue, int.MaxValue);
        }
        return (codes, scales);
    }

    /// <summary>ONNX QuantizeLinear of one value to int8.</summary>
    public static sbyte Quantize(float value, ActivationQuantization q) =>
        Saturate8(Math.Round(value / (double)q.Scale, MidpointRounding.ToEven) + q.ZeroPoint, -128);

    private static sbyte Saturate8(double v, int min) => v <= min ? (sbyte)min : v >= 127 ? (sbyte)127 : (sbyte)v;
}

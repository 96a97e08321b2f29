namespace EdgeKws.Shared.Features;

/// <summary>
/// INT8 view of MFCC feature windows (frames x coefficients, row-major) for the quantized detector:
/// one per-tensor affine mapping <c>q = saturate(round_half_even(x / scale) + zeroPoint)</c>,
/// <c>x' = (q - zeroPoint) * scale</c>, as ONNX QuantizeLinear/DequantizeLinear define it (the
/// division is done in double so the round trip error stays within scale/2 inside the range).
/// </summary>
/// <remarks>
/// <para>Choosing scale and zero point: run the extractor over calibration audio that looks like
/// deployment (speech, noise, silence at the expected levels), collect all coefficients and call
/// <see cref="ComputeParameters(ReadOnlySpan{float})"/>. It takes the observed [min, max], widened
/// to include 0 so that 0.0 is exact, and spreads it over the 256 codes:
/// <c>scale = (max - min) / 255</c>, <c>zeroPoint = round(-128 - min / scale)</c>. Store the result in
/// <see cref="MfccConfig.Int8Scale"/> / <see cref="MfccConfig.Int8ZeroPoint"/>; they are part of the
/// feature hash, so a model is always fed the quantization it was calibrated with. Values outside
/// the range saturate at -128/127.</para>
/// <para>Allocation: none; callers own every buffer.</para>
/// </remarks>
public static class MfccQuantizer
{
    /// <summary>Quantizes with the configuration's <see cref="MfccConfig.Int8Scale"/> and <see cref="MfccConfig.Int8ZeroPoint"/>.</summary>
    public static void Quantize(MfccConfig config, ReadOnlySpan<float> features, Span<sbyte> destination)
    {
        ArgumentNullException.ThrowIfNull(config);
        Quantize(features, destination, config.Int8Scale, config.Int8ZeroPoint);
    }

    /// <summary>Dequantizes with the configuration's scale and zero point.</summary>
    public static void Dequantize(MfccConfig config, ReadOnlySpan<sbyte> quantized, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(config);
        Dequantize(quantized, destination, config.Int8Scale, config.Int8ZeroPoint);
    }

    /// <summary>Writes <c>saturate(round_half_even(x / scale) + zeroPoint)</c> for each feature.</summary>
    public static void Quantize(ReadOnlySpan<float> features, Span<sbyte> destination, double scale, int zeroPoint)
    {
        CheckParameters(scale, zeroPoint);
        if (destination.Length < features.Length)
        {
            throw new ArgumentException($"The INT8 buffer must hold at least {features.Length} values; got {destination.Length}.", nameof(destination));
        }

        for (int i = 0; i < features.Length; i++)
        {
            double scaled = features[i] / scale;
            double q = Math.Round(scaled, MidpointRounding.ToEven) + zeroPoint;
            destination[i] = q <= sbyte.MinValue ? sbyte.MinValue : q >= sbyte.MaxValue ? sbyte.MaxValue : (sbyte)q;
        }
    }

    /// <summary>Writes <c>(q - zeroPoint) * scale</c> for each quantized value.</summary>
    public static void Dequantize(ReadOnlySpan<sbyte> quantized, Span<float> destination, double scale, int zeroPoint)
    {
        CheckParameters(scale, zeroPoint);
        if (destination.Length < quantized.Length)
        {
            throw new ArgumentException($"The float buffer must hold at least {quantized.Length} values; got {destination.Length}.", nameof(destination));
        }

        for (int i = 0; i < quantized.Length; i++)
        {
            destination[i] = (float)((quantized[i] - zeroPoint) * scale);
        }
    }

    /// <summary>Scale and zero point covering [min, max] of calibration features (see remarks).</summary>
    /// <exception cref="ArgumentException">No features, or a non-finite one.</exception>
    public static (double Scale, int ZeroPoint) ComputeParameters(ReadOnlySpan<float> calibrationFeatures)
    {
        if (calibrationFeatures.IsEmpty)
        {
            throw new ArgumentException("Calibration needs at least one feature value.", nameof(calibrationFeatures));
        }

        float min = 0, max = 0; // 0 is always representable exactly
        for (int i = 0; i < calibrationFeatures.Length; i++)
        {
            float v = calibrationFeatures[i];
            if (!float.IsFinite(v))
            {
                throw new ArgumentException($"Calibration feature {i} is not finite ({v}).", nameof(calibrationFeatures));
            }

            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return ComputeParameters(min, max);
    }

    /// <summary>Scale and zero point that map [min, max] (widened to include 0) onto [-128, 127].</summary>
    public static (double Scale, int ZeroPoint) ComputeParameters(double min, double max)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max) || min > max)
        {
            throw new ArgumentException($"The calibration range must be finite with min <= max; got [{min}, {max}].", nameof(min));
        }

        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        if (max - min == 0)
        {
            return (1.0, 0);
        }

        double scale = (max - min) / 255.0;
        int zeroPoint = (int)Math.Clamp(Math.Round(-128 - min / scale, MidpointRounding.ToEven), sbyte.MinValue, sbyte.MaxValue);
        return (scale, zeroPoint);
    }

    private static void CheckParameters(double scale, int zeroPoint)
    {
        if (!(scale > 0) || !double.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "The INT8 scale must be finite and > 0.");
        }

        if (zeroPoint < sbyte.MinValue || zeroPoint > sbyte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(zeroPoint), zeroPoint, "The INT8 zero point must be within [-128, 127].");
        }
    }
}

using System.Numerics;

namespace EdgeKws.Acoustics;

/// <summary>The RBJ audio-EQ-cookbook filter shapes.</summary>
public enum BiquadKind
{
    /// <summary>Second-order low-pass; Q 0.7071 is Butterworth.</summary>
    LowPass,

    /// <summary>Second-order high-pass; Q 0.7071 is Butterworth.</summary>
    HighPass,

    /// <summary>Bell: <see cref="BiquadSpec.GainDb"/> at the centre frequency, bandwidth set by Q.</summary>
    Peaking,

    /// <summary>Low shelf: <see cref="BiquadSpec.GainDb"/> below the corner (half the gain at the corner).</summary>
    LowShelf,

    /// <summary>High shelf: <see cref="BiquadSpec.GainDb"/> above the corner (half the gain at the corner).</summary>
    HighShelf,

    /// <summary>Band-pass with 0 dB at the centre frequency (the cookbook's constant-peak-gain form).</summary>
    BandPass,
}

/// <summary>
/// One biquad stage: shape, corner or centre frequency (Hz), Q (the cookbook's Q, also used for the
/// shelves: 0.7071 is the steepest shelf without overshoot), and gain in dB for peaking and shelves
/// (ignored by the other kinds).
/// </summary>
public sealed record BiquadSpec(BiquadKind Kind, double FrequencyHz, double Q, double GainDb = 0);

/// <summary>
/// RBJ audio-EQ-cookbook biquad, transposed direct form II with double coefficients and state.
/// Allocates nothing after construction; <see cref="Process"/> filters in place and keeps state between calls.
/// </summary>
public sealed class Biquad
{
    private readonly double _b0, _b1, _b2, _a1, _a2; // normalised by a0
    private double _s1, _s2;

    /// <summary>Designs the stage for <paramref name="sampleRateHz"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The frequency is not in (0, Nyquist), Q is not positive, or the gain is not finite.</exception>
    public Biquad(BiquadSpec spec, int sampleRateHz)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRateHz);
        if (!(spec.FrequencyHz > 0 && spec.FrequencyHz < sampleRateHz / 2.0))
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.FrequencyHz, $"Biquad frequency must be in (0, {sampleRateHz / 2} Hz) at {sampleRateHz} Hz.");
        }

        if (!(spec.Q > 0 && double.IsFinite(spec.Q)))
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.Q, "Biquad Q must be positive and finite.");
        }

        if (!double.IsFinite(spec.GainDb))
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.GainDb, "Biquad gain must be finite.");
        }

        Spec = spec;
        SampleRateHz = sampleRateHz;
        double w0 = 2.0 * Math.PI * spec.FrequencyHz / sampleRateHz;
        double cos = Math.Cos(w0);
        double alpha = Math.Sin(w0) / (2.0 * spec.Q);
        double a = Math.Pow(10.0, spec.GainDb / 40.0);
        double sqrtA2Alpha = 2.0 * Math.Sqrt(a) * alpha;

        double b0, b1, b2, a0, a1, a2;
        switch (spec.Kind)
        {
            case BiquadKind.LowPass:
                b0 = (1 - cos) / 2; b1 = 1 - cos; b2 = (1 - cos) / 2;
                a0 = 1 + alpha; a1 = -2 * cos; a2 = 1 - alpha;
                break;
            case BiquadKind.HighPass:
                b0 = (1 + cos) / 2; b1 = -(1 + cos); b2 = (1 + cos) / 2;
                a0 = 1 + alpha; a1 = -2 * cos; a2 = 1 - alpha;
                break;
            case BiquadKind.BandPass:
                b0 = alpha; b1 = 0; b2 = -alpha;
                a0 = 1 + alpha; a1 = -2 * cos; a2 = 1 - alpha;
                break;
            case BiquadKind.Peaking:
                b0 = 1 + alpha * a; b1 = -2 * cos; b2 = 1 - alpha * a;
                a0 = 1 + alpha / a; a1 = -2 * cos; a2 = 1 - alpha / a;
                break;
            case BiquadKind.LowShelf:
                b0 = a * ((a + 1) - (a - 1) * cos + sqrtA2Alpha);
                b1 = 2 * a * ((a - 1) - (a + 1) * cos);
                b2 = a * ((a + 1) - (a - 1) * cos - sqrtA2Alpha);
                a0 = (a + 1) + (a - 1) * cos + sqrtA2Alpha;
                a1 = -2 * ((a - 1) + (a + 1) * cos);
                a2 = (a + 1) + (a - 1) * cos - sqrtA2Alpha;
                break;
            case BiquadKind.HighShelf:
                b0 = a * ((a + 1) + (a - 1) * cos + sqrtA2Alpha);
                b1 = -2 * a * ((a - 1) + (a + 1) * cos);
                b2 = a * ((a + 1) + (a - 1) * cos - sqrtA2Alpha);
                a0 = (a + 1) - (a - 1) * cos + sqrtA2Alpha;
                a1 = 2 * ((a - 1) - (a + 1) * cos);
                a2 = (a + 1) - (a - 1) * cos - sqrtA2Alpha;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "Unknown biquad kind.");
        }

        _b0 = b0 / a0; _b1 = b1 / a0; _b2 = b2 / a0; _a1 = a1 / a0; _a2 = a2 / a0;
    }

    /// <summary>The design this stage was built from.</summary>
    public BiquadSpec Spec { get; }

    /// <summary>The sample rate it was designed for, Hz.</summary>
    public int SampleRateHz { get; }

    /// <summary>Filters <paramref name="samples"/> in place, continuing from the state the previous call left.</summary>
    public void Process(Span<float> samples)
    {
        double b0 = _b0, b1 = _b1, b2 = _b2, a1 = _a1, a2 = _a2, s1 = _s1, s2 = _s2;
        for (int n = 0; n < samples.Length; n++)
        {
            double x = samples[n];
            double y = b0 * x + s1;
            s1 = b1 * x - a1 * y + s2;
            s2 = b2 * x - a2 * y;
            samples[n] = (float)y;
        }

        _s1 = s1;
        _s2 = s2;
    }

    /// <summary>Clears the state, as if no sample had been processed.</summary>
    public void Reset()
    {
        _s1 = 0;
        _s2 = 0;
    }

    /// <summary>Gain of the stage at <paramref name="frequencyHz"/>, dB: 20 log10 |H(e^jw)| from the coefficients.</summary>
    public double MagnitudeDb(double frequencyHz)
    {
        double w = 2.0 * Math.PI * frequencyHz / SampleRateHz;
        var z1 = Complex.FromPolarCoordinates(1, -w);
        var z2 = z1 * z1;
        Complex numerator = _b0 + _b1 * z1 + _b2 * z2;
        Complex denominator = 1 + _a1 * z1 + _a2 * z2;
        return 20.0 * Math.Log10(numerator.Magnitude / denominator.Magnitude);
    }
}

using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeKws.Shared.Audio;

/// <summary>
/// Streaming rational (L/M) sample-rate converter: a polyphase Kaiser-windowed-sinc filter, designed
/// once in the constructor from the gcd of the two rates (44.1 kHz to 16 kHz is L = 160, M = 441).
/// The output is delay-compensated: output sample n is the input at time n / OutputRateHz, so timestamps
/// survive resampling; the filter's look-ahead is returned by <see cref="Flush"/> at the end.
/// </summary>
/// <remarks>
/// <para><b>Why this quality is enough for 16 kHz KWS features.</b> The MFCC front end looks at 0-8 kHz
/// through a mel filterbank whose top bands carry little speech energy. The filter is flat (designed ripple
/// 1e-5, about 0.0001 dB) up to <see cref="PassbandEdgeFraction"/> x the lower Nyquist (7.2 kHz for a 16 kHz
/// output), rolls off between 7.2 and 8 kHz (-6 dB at 7.6 kHz, as sox's default 95 % bandwidth), and is
/// designed for <see cref="StopbandAttenuationDb"/> dB above 8 kHz, so anything that could alias into the
/// output sits below the 16-bit quantisation floor (about -98 dBFS) of the device's own captures. Training
/// data resampled with it therefore matches what the device's native 16 kHz microphone produces, which is what
/// matters for a detector trained offline and run on-device. The figures are measured in
/// Resampler_Tests and listed in docs/audio-io.md.</para>
/// <para><b>Memory.</b> Coefficients (L x taps) and a 2 x taps history are allocated in the constructor; after
/// that <see cref="Process"/> and <see cref="Flush"/> allocate nothing. Rates whose gcd with the output
/// rate would need more than <see cref="MaxPhases"/> phases are refused rather than allocating megabytes.</para>
/// <para><b>Same bits everywhere.</b> The output does not depend on the runtime (JIT or NativeAOT) or the CPU's
/// vector width: each output is one fixed summation tree (see <c>Dot</c>), so audio resampled at the gateway and on a
/// device is bit-identical. Resampler_Determinism_Tests compares the JIT with a NativeAOT build.</para>
/// </remarks>
public sealed class Resampler
{
    /// <summary>Designed stopband attenuation (Kaiser beta follows from it).</summary>
    public const double StopbandAttenuationDb = 100.0;

    /// <summary>Passband edge as a fraction of the lower of the two Nyquist frequencies; the stopband starts at that Nyquist.</summary>
    public const double PassbandEdgeFraction = 0.9;

    /// <summary>Largest interpolation factor L accepted (bounds the coefficient table).</summary>
    public const int MaxPhases = 4096;

    private readonly float[] _coefficients;
    private readonly float[] _history;
    private readonly int _taps;
    private readonly long _centre;
    private int _write;
    private long _inputCount;
    private long _outputCount;
    private long _nextNeededInput;
    private bool _flushed;

    /// <summary>Designs the filter for <paramref name="inputRateHz"/> to <paramref name="outputRateHz"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A rate is not positive, or the ratio needs more than <see cref="MaxPhases"/> phases.</exception>
    public Resampler(int inputRateHz, int outputRateHz = 16_000)
    {
        if (inputRateHz is <= 0 or > WavFormat.MaxSampleRateHz)
        {
            throw new ArgumentOutOfRangeException(nameof(inputRateHz), inputRateHz, $"Input rate must be 1 to {WavFormat.MaxSampleRateHz} Hz.");
        }

        if (outputRateHz is <= 0 or > WavFormat.MaxSampleRateHz)
        {
            throw new ArgumentOutOfRangeException(nameof(outputRateHz), outputRateHz, $"Output rate must be 1 to {WavFormat.MaxSampleRateHz} Hz.");
        }

        int gcd = (int)BigInteger.GreatestCommonDivisor(inputRateHz, outputRateHz);
        UpFactor = outputRateHz / gcd;
        DownFactor = inputRateHz / gcd;
        if (UpFactor > MaxPhases)
        {
            throw new ArgumentOutOfRangeException(nameof(inputRateHz), inputRateHz,
                $"{inputRateHz} Hz to {outputRateHz} Hz reduces only to {UpFactor}/{DownFactor} (gcd {gcd}); more than {MaxPhases} filter phases would be needed.");
        }

        InputRateHz = inputRateHz;
        OutputRateHz = outputRateHz;
        (_coefficients, _taps, _centre) = Design(inputRateHz, outputRateHz, UpFactor);
        _history = new float[2 * _taps];
        Reset();
    }

    /// <summary>Input sample rate.</summary>
    public int InputRateHz { get; }

    /// <summary>Output sample rate.</summary>
    public int OutputRateHz { get; }

    /// <summary>Interpolation factor L (output rate / gcd).</summary>
    public int UpFactor { get; }

    /// <summary>Decimation factor M (input rate / gcd).</summary>
    public int DownFactor { get; }

    /// <summary>Filter taps per output sample (multiply-adds per output).</summary>
    public int TapsPerPhase => _taps;

    /// <summary>Bytes of coefficient table plus history: the whole state, fixed after construction.</summary>
    public int StateBytes => (_coefficients.Length + _history.Length) * sizeof(float);

    /// <summary>Input samples the filter looks ahead; outputs lag the input by this much until <see cref="Flush"/>.</summary>
    public int LookAheadInputSamples => (int)(_centre / UpFactor) + 1;

    /// <summary>Upper bound on the samples one <see cref="Process"/> call with <paramref name="inputCount"/> inputs can produce, whatever the state.</summary>
    public int GetMaxOutputCount(int inputCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputCount);
        return (int)((((long)inputCount * UpFactor) + DownFactor - 1) / DownFactor) + 1;
    }

    /// <summary>Upper bound on the samples <see cref="Flush"/> can produce.</summary>
    public int MaxFlushCount => (int)(_centre / DownFactor) + 2;

    /// <summary>
    /// Consumes all of <paramref name="input"/> and writes every output sample it completes.
    /// <paramref name="output"/> must hold at least <see cref="GetMaxOutputCount"/>(input.Length) samples.
    /// Returns the number written. Allocates nothing.
    /// </summary>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_flushed)
        {
            throw new InvalidOperationException("The resampler was flushed; call Reset before processing a new stream.");
        }

        long produced = OutputsCompletedThrough(_inputCount + input.Length) - _outputCount;
        if (output.Length < produced)
        {
            throw new ArgumentException($"Output holds {output.Length} samples but {input.Length} inputs complete {produced} outputs; size it with GetMaxOutputCount.", nameof(output));
        }

        int o = 0;
        for (int j = 0; j < input.Length; j++)
        {
            o += Push(input[j], output[o..]);
        }

        return o;
    }

    /// <summary>
    /// Ends the stream: feeds zeros through the look-ahead and writes the remaining outputs, so the total
    /// output is ceil(inputs x L / M) samples. <paramref name="output"/> must hold <see cref="MaxFlushCount"/>.
    /// After a flush, <see cref="Reset"/> before the next stream.
    /// </summary>
    public int Flush(Span<float> output)
    {
        if (_flushed)
        {
            return 0;
        }

        long total = ((_inputCount * UpFactor) + DownFactor - 1) / DownFactor;
        long remaining = total - _outputCount;
        if (output.Length < remaining)
        {
            throw new ArgumentException($"Output holds {output.Length} samples but the flush produces {remaining}; size it with MaxFlushCount.", nameof(output));
        }

        int o = 0;
        while (_outputCount < total)
        {
            o += Push(0f, output[o..], limit: total);
        }

        _flushed = true;
        return o;
    }

    /// <summary>Clears the history and counters for a new, unrelated stream.</summary>
    public void Reset()
    {
        Array.Clear(_history);
        _write = 0;
        _inputCount = 0;
        _outputCount = 0;
        _nextNeededInput = _centre / UpFactor;
        _flushed = false;
    }

    // Outputs n with (n*M + c) / L <= inputs - 1, i.e. n*M + c < inputs*L.
    private long OutputsCompletedThrough(long inputs)
    {
        long num = (inputs * UpFactor) - _centre;
        return num <= 0 ? 0 : (num + DownFactor - 1) / DownFactor;
    }

    private int Push(float sample, Span<float> output, long limit = long.MaxValue)
    {
        _history[_write] = sample;
        _history[_write + _taps] = sample;
        _write = _write + 1 == _taps ? 0 : _write + 1;
        long newest = _inputCount++;
        int o = 0;
        while (_nextNeededInput == newest && _outputCount < limit)
        {
            int phase = (int)(((_outputCount * DownFactor) + _centre) % UpFactor);
            output[o++] = Dot(_coefficients.AsSpan(phase * _taps, _taps), _history.AsSpan(_write, _taps));
            _outputCount++;
            _nextNeededInput = ((_outputCount * DownFactor) + _centre) / UpFactor;
        }

        return o;
    }

    // The summation order is part of the output, so it is one fixed tree on every CPU and under both runtimes:
    // sixteen partial sums (partial k takes the products k, k + 16, k + 32, ... of whole blocks of 16); a leftover
    // block of 8 into partials 0-7, then a leftover block of 4 into partials 0-3; the pairs (k, k + 8), then
    // (k, k + 4), then ((0 + 1) + (2 + 3)); then the last one to three products in order. Vector<float> would not
    // do: it is 8 lanes under the JIT on an AVX2 machine but 4 under NativeAOT (whose default x64 target has no
    // AVX), so the gateway and the device got different bits from the same audio. Every path below computes
    // exactly this tree with lane-wise IEEE single multiplies and adds (nothing is fused into an FMA): two
    // Vector256 accumulators where AVX is available, else four Vector128 ones (SSE, AdvSimd, or the software
    // fallback). Independent accumulators also let the adds pipeline instead of waiting on one register.
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        // Unchecked loads (no bounds check per block): every index below is < n, and b is at least as long as a.
        int n = a.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(b.Length, n, nameof(b));
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        Vector128<float> p0 = Vector128<float>.Zero, p4 = Vector128<float>.Zero, p8 = Vector128<float>.Zero, p12 = Vector128<float>.Zero;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> p0To7 = Vector256<float>.Zero, p8To15 = Vector256<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                p0To7 += Vector256.LoadUnsafe(ref ra, (nuint)i) * Vector256.LoadUnsafe(ref rb, (nuint)i);
                p8To15 += Vector256.LoadUnsafe(ref ra, (nuint)(i + 8)) * Vector256.LoadUnsafe(ref rb, (nuint)(i + 8));
            }

            (p0, p4, p8, p12) = (p0To7.GetLower(), p0To7.GetUpper(), p8To15.GetLower(), p8To15.GetUpper());
        }
        else
        {
            for (; i + 16 <= n; i += 16)
            {
                p0 += Vector128.LoadUnsafe(ref ra, (nuint)i) * Vector128.LoadUnsafe(ref rb, (nuint)i);
                p4 += Vector128.LoadUnsafe(ref ra, (nuint)(i + 4)) * Vector128.LoadUnsafe(ref rb, (nuint)(i + 4));
                p8 += Vector128.LoadUnsafe(ref ra, (nuint)(i + 8)) * Vector128.LoadUnsafe(ref rb, (nuint)(i + 8));
                p12 += Vector128.LoadUnsafe(ref ra, (nuint)(i + 12)) * Vector128.LoadUnsafe(ref rb, (nuint)(i + 12));
            }
        }

        if (i + 8 <= n)
        {
            p0 += Vector128.LoadUnsafe(ref ra, (nuint)i) * Vector128.LoadUnsafe(ref rb, (nuint)i);
            p4 += Vector128.LoadUnsafe(ref ra, (nuint)(i + 4)) * Vector128.LoadUnsafe(ref rb, (nuint)(i + 4));
            i += 8;
        }

        if (i + 4 <= n)
        {
            p0 += Vector128.LoadUnsafe(ref ra, (nuint)i) * Vector128.LoadUnsafe(ref rb, (nuint)i);
            i += 4;
        }

        Vector128<float> r = (p0 + p8) + (p4 + p12);
        float sum = (r.GetElement(0) + r.GetElement(1)) + (r.GetElement(2) + r.GetElement(3));
        for (; i < n; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    private static (float[] Coefficients, int Taps, long Centre) Design(int inputRateHz, int outputRateHz, int up)
    {
        if (inputRateHz == outputRateHz)
        {
            return ([1f], 1, 0);
        }

        double nyquist = Math.Min(inputRateHz, outputRateHz) / 2.0;
        double passEdge = PassbandEdgeFraction * nyquist;
        double cutoff = (passEdge + nyquist) / 2.0;
        double protoRate = (double)inputRateHz * up;
        double transition = 2.0 * Math.PI * (nyquist - passEdge) / protoRate;
        double beta = 0.1102 * (StopbandAttenuationDb - 8.7);

        // Kaiser's length estimate, forced odd so the centre tap is an integer and the output is delay-free.
        int length = (int)Math.Ceiling((StopbandAttenuationDb - 7.95) / (2.285 * transition)) + 1;
        length |= 1;
        int taps = (length + up - 1) / up;
        long centre = (length - 1) / 2;
        var proto = new double[taps * up];
        double i0Beta = BesselI0(beta);
        double wc = 2.0 * Math.PI * cutoff / protoRate;
        for (int m = 0; m < length; m++)
        {
            double t = m - centre;
            double sinc = t == 0 ? wc / Math.PI : Math.Sin(wc * t) / (Math.PI * t);
            double r = t / centre;
            proto[m] = up * sinc * BesselI0(beta * Math.Sqrt(Math.Max(0.0, 1.0 - (r * r)))) / i0Beta;
        }

        // Phase-major, each phase reversed so the dot product walks the history oldest to newest;
        // every phase is normalised to unit DC gain so no phase adds a DC step.
        var coefficients = new float[taps * up];
        for (int phase = 0; phase < up; phase++)
        {
            double sum = 0;
            for (int k = 0; k < taps; k++)
            {
                sum += proto[phase + (k * up)];
            }

            for (int k = 0; k < taps; k++)
            {
                coefficients[(phase * taps) + (taps - 1 - k)] = (float)(proto[phase + (k * up)] / sum);
            }
        }

        return (coefficients, taps, centre);
    }

    private static double BesselI0(double x)
    {
        double sum = 1, term = 1, half = x / 2;
        for (int k = 1; k < 200 && term > 1e-17 * sum; k++)
        {
            term *= half / k * (half / k);
            sum += term;
        }

        return sum;
    }
}

using System.Runtime.InteropServices;

namespace EdgeKws.Shared.Features;

/// <summary>
/// Fixed-memory streaming MFCC front end, shared bit for bit by device and gateway. Equivalent to
/// Kaldi's <c>compute-mfcc-feats</c> / <c>torchaudio.compliance.kaldi.mfcc</c> with dither 0 and
/// snip_edges true (checked against torchaudio by the parity tests).
/// </summary>
/// <remarks>
/// <para>Allocation: every table and buffer is allocated once in the constructor; <see cref="Push(ReadOnlySpan{float}, Span{float})"/>,
/// <see cref="ProcessFrame(ReadOnlySpan{float}, Span{float})"/> and their <c>short</c> overloads
/// allocate nothing (a test asserts an exact 0-byte delta over 10 minutes of audio).</para>
/// <para>Determinism: double-precision arithmetic in a fixed order, SIMD only through
/// <c>Vector128</c> (the same width on x64 and arm64), no fused multiply-add, no threads, and tables
/// and logarithms from <see cref="DeterministicMath"/> instead of the platform's libm. The same
/// samples give the same bits on every run, on x64 and arm64.</para>
/// <para>Not thread-safe: one extractor per audio stream.</para>
/// </remarks>
public sealed class MfccExtractor
{
    private const double FloatEpsilon = 1.1920928955078125e-07;

    private readonly int _windowSamples;
    private readonly int _hopSamples;
    private readonly int _fftSize;
    private readonly int _melBins;
    private readonly int _coefficients;
    private readonly float _referenceLevel;
    private readonly double _preemphasis;
    private readonly bool _removeDc;
    private readonly bool _useEnergy;
    private readonly double _logFloor;
    private readonly double _logEnergyFloor; // log(EnergyFloor), or -infinity when the floor is 0

    // Tables.
    private readonly double[] _halfWindow; // ceil(W/2): the window is symmetric
    private readonly RealFft _fft;         // N/4+1 doubles + under N/2 ushorts
    private readonly ushort[] _melStart;   // B
    private readonly ushort[] _melCount;   // B
    private readonly float[] _melWeights;  // sum of the triangles' widths in FFT bins
    private readonly float[] _halfDct;     // C x ceil(B/2): the DCT is (anti)symmetric
    private readonly float[] _lifter;      // C

    // Buffers.
    private readonly float[] _history;     // W: the samples of the frame being filled, int16 scale
    private readonly double[] _frame;      // N: windowed frame, then FFT scratch
    private readonly double[] _mel;        // B: log mel energies

    private int _fill;  // samples in _history
    private int _skip;  // samples still to drop before the next frame starts (hop > window)

    /// <summary>Builds every table and buffer for <paramref name="config"/> (validated first).</summary>
    /// <exception cref="ArgumentException">The configuration is invalid; the message names the field.</exception>
    public MfccExtractor(MfccConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        _windowSamples = config.WindowSamples;
        _hopSamples = config.HopSamples;
        _fftSize = config.FftSize;
        _melBins = config.MelBinCount;
        _coefficients = config.CoefficientCount;
        _referenceLevel = (float)config.ReferenceLevel;
        _preemphasis = config.PreemphasisCoefficient;
        _removeDc = config.RemoveDcOffset;
        _useEnergy = config.UseEnergy;
        _logFloor = config.LogFloor;
        _logEnergyFloor = config.EnergyFloor > 0 ? DeterministicMath.Log(config.EnergyFloor) : double.NegativeInfinity;

        _halfWindow = MfccTables.HalfWindow(config.Window, _windowSamples);
        _fft = new RealFft(_fftSize);
        (_melStart, _melCount, _melWeights) = MfccTables.MelFilterbank(config);
        _halfDct = MfccTables.HalfDct(_coefficients, _melBins);
        _lifter = MfccTables.Lifter(_coefficients, config.CepstralLifter);

        _history = new float[_windowSamples];
        _frame = new double[_fftSize];
        _mel = new double[_melBins];
    }

    /// <summary>The configuration these features follow.</summary>
    public MfccConfig Config { get; }

    /// <summary>Coefficients written per frame (<see cref="MfccConfig.CoefficientCount"/>).</summary>
    public int CoefficientCount => _coefficients;

    /// <summary>Samples per frame.</summary>
    public int WindowSamples => _windowSamples;

    /// <summary>Samples between frame starts.</summary>
    public int HopSamples => _hopSamples;

    /// <summary>Frames emitted by <see cref="Push(ReadOnlySpan{float}, Span{float})"/> since construction or <see cref="Reset"/>.</summary>
    public long FramesEmitted { get; private set; }

    /// <summary>
    /// Exact bytes of all tables and buffers: the sum over every array of length x element size,
    /// excluding object headers and scalar fields. With W window samples, N FFT points, B mel bins,
    /// C coefficients and T mel weights (the triangles' total width in FFT bins):
    /// <c>8 ceil(W/2) (half window, double) + 4W (sample history, float) + 8N (frame, FFT and power
    /// spectrum in place, double) + 8(N/4+1) (quarter sine, double) + 2(N/2 - 2^ceil(log2(N/2)/2)) (bit-reversal swap pairs, ushort)
    /// + 2B + 2B (mel start, count, ushort) + 4T (mel weights, float) + 8B (log mel, double)
    /// + 4C ceil(B/2) (half DCT, float) + 4C (lifter, float)</c>.
    /// The default configuration needs 12,252 bytes (W 400, N 512, B 40, C 13, T 468).
    /// </summary>
    public int StateBytes =>
        _halfWindow.Length * sizeof(double)
        + _history.Length * sizeof(float)
        + _frame.Length * sizeof(double)
        + _fft.StateBytes
        + _melStart.Length * sizeof(ushort)
        + _melCount.Length * sizeof(ushort)
        + _melWeights.Length * sizeof(float)
        + _mel.Length * sizeof(double)
        + _halfDct.Length * sizeof(float)
        + _lifter.Length * sizeof(float);

    /// <summary>Total width of the mel triangles in FFT bins (T in <see cref="StateBytes"/>).</summary>
    internal int MelWeightCount => _melWeights.Length;

    /// <summary>Forgets buffered samples so the next sample starts frame 0 again.</summary>
    public void Reset()
    {
        _fill = 0;
        _skip = 0;
        FramesEmitted = 0;
    }

    /// <summary>Exactly how many frames the next push of <paramref name="sampleCount"/> samples will emit.</summary>
    public int FramesForNextPush(int sampleCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sampleCount);
        int need = _skip + (_windowSamples - _fill);
        return sampleCount < need ? 0 : 1 + (sampleCount - need) / _hopSamples;
    }

    /// <summary>
    /// Appends normalized samples ([-1, 1)) and writes every frame they complete, one row of
    /// <see cref="CoefficientCount"/> floats per frame, into <paramref name="coefficients"/>. Blocks
    /// of any size give the same frames as one long block (Kaldi snip_edges framing from the first
    /// sample after construction or <see cref="Reset"/>).
    /// </summary>
    /// <returns>Frames written.</returns>
    /// <exception cref="ArgumentException"><paramref name="coefficients"/> is shorter than <see cref="FramesForNextPush"/> x <see cref="CoefficientCount"/>.</exception>
    public int Push(ReadOnlySpan<float> samples, Span<float> coefficients) => PushCore(samples, coefficients);

    /// <summary>As <see cref="Push(ReadOnlySpan{float}, Span{float})"/> for 16-bit PCM; gives the same bits as the floats s / 32768f.</summary>
    public int Push(ReadOnlySpan<short> samples, Span<float> coefficients) => PushCore(samples, coefficients);

    /// <summary>
    /// Computes one frame from exactly <see cref="WindowSamples"/> normalized samples into the first
    /// <see cref="CoefficientCount"/> floats of <paramref name="coefficients"/>. Independent of the
    /// streaming state.
    /// </summary>
    public void ProcessFrame(ReadOnlySpan<float> window, Span<float> coefficients) => ProcessFrameCore(window, coefficients);

    /// <summary>As <see cref="ProcessFrame(ReadOnlySpan{float}, Span{float})"/> for 16-bit PCM.</summary>
    public void ProcessFrame(ReadOnlySpan<short> window, Span<float> coefficients) => ProcessFrameCore(window, coefficients);

    private void ProcessFrameCore<T>(ReadOnlySpan<T> window, Span<float> coefficients)
        where T : unmanaged
    {
        if (window.Length != _windowSamples)
        {
            throw new ArgumentException($"The frame must hold exactly {_windowSamples} samples (WindowMs {Config.WindowMs} at {Config.SampleRateHz} Hz); got {window.Length}.", nameof(window));
        }

        if (coefficients.Length < _coefficients)
        {
            throw new ArgumentException($"The coefficient buffer must hold at least {_coefficients} floats; got {coefficients.Length}.", nameof(coefficients));
        }

        // Same float scaling as the streaming path, then widened: both paths give the same bits.
        Span<double> frame = _frame.AsSpan(0, _windowSamples);
        float reference = _referenceLevel;
        if (typeof(T) == typeof(short))
        {
            ReadOnlySpan<short> s = MemoryMarshal.Cast<T, short>(window);
            for (int i = 0; i < s.Length; i++)
            {
                frame[i] = Scale(s[i], reference);
            }
        }
        else
        {
            ReadOnlySpan<float> f = MemoryMarshal.Cast<T, float>(window);
            for (int i = 0; i < f.Length; i++)
            {
                frame[i] = Scale(f[i], reference);
            }
        }

        Compute(coefficients);
    }

    private int PushCore<T>(ReadOnlySpan<T> samples, Span<float> coefficients)
        where T : unmanaged
    {
        int frames = FramesForNextPush(samples.Length);
        if (coefficients.Length < frames * _coefficients)
        {
            throw new ArgumentException($"Pushing {samples.Length} samples emits {frames} frames, which need {frames * _coefficients} floats; the buffer holds {coefficients.Length}. Size it with FramesForNextPush.", nameof(coefficients));
        }

        int written = 0;
        int i = 0;
        while (i < samples.Length)
        {
            if (_skip > 0)
            {
                int drop = Math.Min(_skip, samples.Length - i);
                _skip -= drop;
                i += drop;
                continue;
            }

            int take = Math.Min(_windowSamples - _fill, samples.Length - i);
            CopyScaled(samples.Slice(i, take), _history.AsSpan(_fill, take));
            _fill += take;
            i += take;
            if (_fill == _windowSamples)
            {
                Span<double> frame = _frame.AsSpan(0, _windowSamples);
                for (int k = 0; k < frame.Length; k++)
                {
                    frame[k] = _history[k];
                }

                Compute(coefficients.Slice(written * _coefficients, _coefficients));
                written++;
                if (_hopSamples < _windowSamples)
                {
                    _history.AsSpan(_hopSamples).CopyTo(_history);
                    _fill = _windowSamples - _hopSamples;
                }
                else
                {
                    _fill = 0;
                    _skip = _hopSamples - _windowSamples;
                }
            }
        }

        FramesEmitted += written;
        return written;
    }

    /// <summary>Normalized samples to Kaldi's int16 scale; s16 goes through s / 32768f first so both paths give the same bits.</summary>
    private void CopyScaled<T>(ReadOnlySpan<T> source, Span<float> destination)
        where T : unmanaged
    {
        float reference = _referenceLevel;
        if (typeof(T) == typeof(short))
        {
            ReadOnlySpan<short> s = MemoryMarshal.Cast<T, short>(source);
            for (int i = 0; i < s.Length; i++)
            {
                destination[i] = Scale(s[i], reference);
            }
        }
        else
        {
            ReadOnlySpan<float> f = MemoryMarshal.Cast<T, float>(source);
            for (int i = 0; i < f.Length; i++)
            {
                destination[i] = Scale(f[i], reference);
            }
        }
    }

    /// <summary>The one definition of input scaling: int16 goes through s / 32768f so it matches the float path bit for bit.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Scale(short sample, float reference) => sample * (1f / 32768f) * reference;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Scale(float sample, float reference) => sample * reference;

    /// <summary>
    /// MFCCs of the int16-scale samples in _frame[0..W), in Kaldi's order of operations. Everything up
    /// to the power spectrum runs in double: in float32 the rounding noise of pre-emphasis,
    /// windowing and the FFT sits about 140 dB under the strongest bin, which is above the true
    /// level of far-off mel bands for tones and chirps, so their logs (and every cepstral
    /// coefficient) would depend on rounding. torchaudio's own float32 output differs from its
    /// float64 output by up to 3.2e-3 (per-frame relative) on the chirp fixture for that reason.
    /// </summary>
    private void Compute(Span<float> coefficients)
    {
        int w = _windowSamples;
        Span<double> x = _frame.AsSpan(0, w);
        _frame.AsSpan(w).Clear();

        double mean = 0;
        if (_removeDc)
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                sum += x[i];
            }

            mean = sum / w;
        }

        double logEnergy = 0;
        if (_useEnergy)
        {
            // Kaldi's raw energy: after DC removal, before pre-emphasis and windowing.
            double energy = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double v = x[i] - mean;
                energy += v * v;
            }

            logEnergy = Math.Max(DeterministicMath.Log(Math.Max(energy, FloatEpsilon)), _logEnergyFloor);
        }

        // DC removal, pre-emphasis (x[i] - p x[i-1], x[-1] = x[0]) and the window in one backward
        // pass; each value is computed exactly as the separate Kaldi steps would. Mean 0 and p 0
        // leave the samples unchanged, so one loop serves every option.
        double p = _preemphasis;
        ReadOnlySpan<double> half = _halfWindow;
        double next = x[w - 1] - mean;
        for (int i = w - 1; i > 0; i--)
        {
            double previous = x[i - 1] - mean;
            x[i] = (next - p * previous) * (i < half.Length ? half[i] : half[w - 1 - i]);
            next = previous;
        }

        x[0] = (next - p * next) * half[0];

        _fft.PowerSpectrumInPlace(_frame);

        ReadOnlySpan<double> spectrum = _frame;
        ReadOnlySpan<float> weights = _melWeights;
        Span<double> mel = _mel;
        int at = 0;
        for (int b = 0; b < mel.Length; b++)
        {
            int count = _melCount[b];
            ReadOnlySpan<float> wb = weights.Slice(at, count);
            int index = RealFft.PowerIndex(_melStart[b]);
            double acc = 0;
            for (int k = 0; k < wb.Length; k++, index += 2)
            {
                acc += wb[k] * spectrum[index];
            }

            at += count;
            mel[b] = DeterministicMath.Log(Math.Max(acc, _logFloor));
        }

        // DCT folded by symmetry: even rows see mel[m] + mel[B-1-m], odd rows mel[m] - mel[B-1-m].
        ReadOnlySpan<float> dct = _halfDct;
        int bins = _melBins;
        int pairs = bins / 2;
        int rowLength = (bins + 1) / 2;
        for (int c = 0; c < _coefficients; c++)
        {
            ReadOnlySpan<float> row = dct.Slice(c * rowLength, rowLength);
            double acc = 0;
            if ((c & 1) == 0)
            {
                for (int m = 0; m < pairs; m++)
                {
                    acc += row[m] * (mel[m] + mel[bins - 1 - m]);
                }
            }
            else
            {
                for (int m = 0; m < pairs; m++)
                {
                    acc += row[m] * (mel[m] - mel[bins - 1 - m]);
                }
            }

            if (rowLength != pairs)
            {
                acc += row[pairs] * mel[pairs];
            }

            coefficients[c] = (float)(acc * _lifter[c]);
        }

        if (_useEnergy)
        {
            coefficients[0] = (float)logEnergy;
        }
    }
}

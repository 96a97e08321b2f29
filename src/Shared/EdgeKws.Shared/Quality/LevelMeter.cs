using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Quality;

/// <summary>
/// Streaming level meter: peak and RMS over everything pushed, and over the last completed
/// short window (default 50 ms) for a live meter or heartbeat.
/// </summary>
/// <remarks>
/// Allocation: all state is one fixed struct created in the constructor
/// (<see cref="StateBytes"/> bytes); <see cref="Push"/> and the readings allocate nothing.
/// Windows are tumbling (non-overlapping) and aligned to the first sample pushed, so a live meter
/// updates every window length and the figures do not depend on how the stream is cut into
/// blocks. Squares are summed in double, sample by sample, in order: results are bit-identical
/// for any block size.
/// </remarks>
public sealed class LevelMeter
{
    /// <summary>Default short-window length for the live level.</summary>
    public const int DefaultWindowMs = 50;

    private State _s;

    /// <summary>Creates a meter.</summary>
    /// <param name="sampleRateHz">Sample rate of the pushed audio.</param>
    /// <param name="windowMs">Length of the live-meter window; must be a whole number of samples.</param>
    public LevelMeter(int sampleRateHz = QualityThresholds.DefaultSampleRateHz, int windowMs = DefaultWindowMs)
    {
        int windowSamples = SampleBlock.SamplesFor(sampleRateHz, windowMs, nameof(windowMs));
        _s = new State { SampleRateHz = sampleRateHz, Window = new FramedSquares(windowSamples) };
    }

    /// <summary>
    /// Bytes of state this meter holds: all its fields live in one struct, so this is exact
    /// (<c>Unsafe.SizeOf</c> of that struct; object header not counted). 72 bytes on 64-bit.
    /// </summary>
    public static int StateBytes => Unsafe.SizeOf<State>();

    /// <summary>Sample rate given at construction.</summary>
    public int SampleRateHz => _s.SampleRateHz;

    /// <summary>Length of the live window in samples.</summary>
    public int WindowSamples => _s.Window.FrameLength;

    /// <summary>Samples pushed since construction or <see cref="Reset"/>.</summary>
    public long SampleCount => _s.SampleCount;

    /// <summary>Peak and RMS over everything pushed since construction or <see cref="Reset"/>.</summary>
    public LevelReading Total =>
        new(_s.Peak, _s.SampleCount == 0 ? 0.0 : _s.SumSquares / _s.SampleCount, _s.SampleCount);

    /// <summary>Peak and RMS of one block, without touching any meter state.</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite.</exception>
    public static LevelReading Measure(ReadOnlySpan<float> block)
    {
        SampleBlock.ThrowIfNotFinite(block);
        double sum = 0;
        float peak = 0;
        for (int i = 0; i < block.Length; i++)
        {
            float x = block[i];
            sum += (double)x * x;
            float a = Math.Abs(x);
            if (a > peak)
            {
                peak = a;
            }
        }

        return new LevelReading(peak, block.Length == 0 ? 0.0 : sum / block.Length, block.Length);
    }

    /// <summary>Adds a block of samples (any length, including zero).</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite; the meter is left unchanged.</exception>
    public void Push(ReadOnlySpan<float> block)
    {
        SampleBlock.ThrowIfNotFinite(block);
        PushUnchecked(block);
    }

    /// <summary>Gets the level of the most recent completed window; false until one window has been filled.</summary>
    public bool TryGetWindow(out LevelReading window)
    {
        window = _s.LastWindow;
        return _s.LastWindow.SampleCount > 0;
    }

    /// <summary>Forgets everything pushed; keeps the configuration. Allocates nothing.</summary>
    public void Reset()
    {
        _s = new State { SampleRateHz = _s.SampleRateHz, Window = new FramedSquares(_s.Window.FrameLength) };
    }

    internal void PushUnchecked(ReadOnlySpan<float> block)
    {
        int offset = 0;
        while (offset < block.Length)
        {
            int taken = _s.Window.Consume(block[offset..], out bool complete);
            offset += taken;
            if (complete)
            {
                _s.LastWindow = new LevelReading(_s.Window.Peak, _s.Window.MeanSquare, _s.Window.FrameLength);
                _s.Window.Clear();
            }
        }

        // The running total is summed separately, sample by sample, so it never depends on where
        // window or block boundaries fall.
        double sum = _s.SumSquares;
        float peak = _s.Peak;
        for (int i = 0; i < block.Length; i++)
        {
            float x = block[i];
            sum += (double)x * x;
            float a = Math.Abs(x);
            if (a > peak)
            {
                peak = a;
            }
        }

        _s.SumSquares = sum;
        _s.Peak = peak;
        _s.SampleCount += block.Length;
    }

    // Sequential layout, widest fields first so there is no padding to pay for.
    private struct State
    {
        public long SampleCount;
        public double SumSquares;
        public FramedSquares Window;
        public LevelReading LastWindow; // SampleCount 0 until the first window completes
        public int SampleRateHz;
        public float Peak;
    }
}

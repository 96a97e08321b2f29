using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Quality;

/// <summary>
/// Streaming clipping detector: counts samples at or above a clip level and runs of consecutive
/// same-sign clipped samples (flat tops), which is what distinguishes a clipped waveform from a
/// signal that merely touches full scale once.
/// </summary>
/// <remarks>
/// Allocation: one fixed state struct (<see cref="StateBytes"/> bytes); <see cref="Push"/> and
/// <see cref="Reading"/> allocate nothing. A run that straddles two blocks is counted once, so
/// figures do not depend on block size. A run ends at a sample below the level or at a change of
/// sign (a full-scale square wave is a series of runs, one per half period).
/// </remarks>
public sealed class ClippingDetector
{
    private State _s;

    /// <summary>Creates a detector.</summary>
    /// <param name="clipLevel">|x| at or above this counts as clipped; in (0, 1]. Default 32767/32768.</param>
    /// <param name="minRunSamples">Consecutive clipped samples that count as a clipped run; at least 2. Default 3.</param>
    public ClippingDetector(float clipLevel = QualityThresholds.DefaultClipLevel, int minRunSamples = QualityThresholds.MinClippedRunSamples)
    {
        if (!(clipLevel > 0f && clipLevel <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(clipLevel), clipLevel,
                "Clip level is an absolute sample value in (0, 1], e.g. 32767/32768 or 0.999.");
        }

        if (minRunSamples < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(minRunSamples), minRunSamples,
                "A clipped run needs at least 2 consecutive samples; one full-scale sample is a peak, not clipping.");
        }

        _s = new State { ClipLevel = clipLevel, MinRunSamples = minRunSamples };
    }

    /// <summary>Exact bytes of state (all fields live in one struct; object header not counted).</summary>
    public static int StateBytes => Unsafe.SizeOf<State>();

    /// <summary>Figures over everything pushed since construction or <see cref="Reset"/>.</summary>
    public ClippingReading Reading =>
        new(_s.SampleCount, _s.ClippedCount, _s.RunCount, _s.LongestRun, _s.ClipLevel, _s.MinRunSamples);

    /// <summary>Adds a block of samples (any length, including zero).</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite; the detector is left unchanged.</exception>
    public void Push(ReadOnlySpan<float> block)
    {
        SampleBlock.ThrowIfNotFinite(block);
        PushUnchecked(block);
    }

    /// <summary>Forgets everything pushed; keeps the configuration. Allocates nothing.</summary>
    public void Reset() => _s = new State { ClipLevel = _s.ClipLevel, MinRunSamples = _s.MinRunSamples };

    internal void PushUnchecked(ReadOnlySpan<float> block)
    {
        float level = _s.ClipLevel;
        int run = _s.CurrentRun;
        int sign = _s.CurrentSign;
        for (int i = 0; i < block.Length; i++)
        {
            float x = block[i];
            int s = x >= level ? 1 : x <= -level ? -1 : 0;
            if (s == 0)
            {
                run = 0;
                sign = 0;
                continue;
            }

            _s.ClippedCount++;
            run = s == sign ? run + 1 : 1;
            sign = s;
            if (run == _s.MinRunSamples)
            {
                _s.RunCount++;
            }

            if (run > _s.LongestRun)
            {
                _s.LongestRun = run;
            }
        }

        _s.CurrentRun = run;
        _s.CurrentSign = sign;
        _s.SampleCount += block.Length;
    }

    private struct State
    {
        public float ClipLevel;
        public int MinRunSamples;
        public long SampleCount;
        public long ClippedCount;
        public int RunCount;
        public int LongestRun;
        public int CurrentRun;
        public int CurrentSign;
    }
}

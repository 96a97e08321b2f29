using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Quality;

/// <summary>
/// Blind SNR estimate for a take: no clean reference, just the distribution of short-frame levels.
/// </summary>
/// <remarks>
/// <para>Method. The audio is cut into frames (default 20 ms, aligned to the first sample). Each
/// frame's level 10·log10(mean x²) goes into a fixed histogram of 0.5 dB bins from -120 to 0 dBFS
/// (levels outside are clamped into the end bins); each bin also keeps the sum of its frames'
/// power. Noise floor = the <c>noisePercentile</c> (default 10th) percentile of frame levels,
/// interpolated within its bin. Speech frames = frames whose bin centre is at least
/// <c>speechMarginDb</c> (default 6 dB) above the floor; speech level = their mean power
/// (exact, from the per-bin sums). SNR = 10·log10((P_speech − P_noise) / P_noise): the noise
/// power is subtracted because speech frames carry the noise too.</para>
/// <para>Known bias. The low percentile of frame levels sits below the mean noise power (about
/// 0.5 dB for stationary white noise in 20 ms frames, more for fluctuating noise), so SNR reads
/// high by about that much. If less than ~10 % of the take is speech-free the percentile lands in
/// speech and SNR reads low. The speech level is an "active speech level" (quiet phonemes below the
/// margin are left out), so it is higher than the average over the whole utterance. With the 6 dB
/// margin no estimate below about 5 dB exists: <see cref="TryGetEstimate"/> reports no speech
/// instead. A take that starts with digital zero has a -120 dBFS floor and reads ~100 dB.</para>
/// <para>Allocation: the histogram is an inline fixed-size buffer inside the one state struct
/// (<see cref="StateBytes"/> bytes); <see cref="Push"/> and the queries allocate nothing.
/// Frame sums are accumulated sample by sample in order, so results are bit-identical for any
/// block size.</para>
/// </remarks>
public sealed class SnrEstimator
{
    /// <summary>Default frame length.</summary>
    public const int DefaultFrameMs = 20;

    /// <summary>Default noise-floor percentile (0..100).</summary>
    public const double DefaultNoisePercentile = 10.0;

    /// <summary>Default margin above the noise floor for a frame to count as speech, in dB.</summary>
    public const double DefaultSpeechMarginDb = 6.0;

    /// <summary>Lower edge of the histogram, dBFS (equals <see cref="Dbfs.FloorDbFs"/>).</summary>
    public const double HistogramMinDbFs = Dbfs.FloorDbFs;

    /// <summary>Upper edge of the histogram, dBFS.</summary>
    public const double HistogramMaxDbFs = 0.0;

    /// <summary>Histogram bin width, dB.</summary>
    public const double BinWidthDb = 0.5;

    /// <summary>Number of histogram bins: (0 − (−120)) / 0.5.</summary>
    public const int BinCount = 240;

    private State _s;

    /// <summary>Creates an estimator.</summary>
    /// <param name="sampleRateHz">Sample rate of the pushed audio.</param>
    /// <param name="frameMs">Frame length; a whole number of samples.</param>
    /// <param name="noisePercentile">Percentile of frame levels taken as the noise floor, in (0, 50].</param>
    /// <param name="speechMarginDb">How far above the floor a frame must be to count as speech, in (0, 60].</param>
    public SnrEstimator(
        int sampleRateHz = QualityThresholds.DefaultSampleRateHz,
        int frameMs = DefaultFrameMs,
        double noisePercentile = DefaultNoisePercentile,
        double speechMarginDb = DefaultSpeechMarginDb)
    {
        int frameSamples = SampleBlock.SamplesFor(sampleRateHz, frameMs, nameof(frameMs));
        if (!(noisePercentile > 0 && noisePercentile <= 50))
        {
            throw new ArgumentOutOfRangeException(nameof(noisePercentile), noisePercentile,
                "Noise percentile must be in (0, 50]: the floor is a low percentile of frame levels.");
        }

        if (!(speechMarginDb > 0 && speechMarginDb <= 60))
        {
            throw new ArgumentOutOfRangeException(nameof(speechMarginDb), speechMarginDb,
                "Speech margin must be in (0, 60] dB above the noise floor.");
        }

        _s = new State
        {
            Frame = new FramedSquares(frameSamples),
            NoisePercentile = noisePercentile,
            SpeechMarginDb = speechMarginDb,
        };
    }

    /// <summary>Exact bytes of state (all fields, histogram included, live in one struct; object header not counted).</summary>
    public static int StateBytes => Unsafe.SizeOf<State>();

    /// <summary>Frame length in samples.</summary>
    public int FrameSamples => _s.Frame.FrameLength;

    /// <summary>Complete frames analysed so far (a trailing partial frame is not counted).</summary>
    public int FrameCount => _s.FrameCount;

    /// <summary>Adds a block of samples (any length, including zero).</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite; the estimator is left unchanged.</exception>
    public void Push(ReadOnlySpan<float> block)
    {
        SampleBlock.ThrowIfNotFinite(block);
        PushUnchecked(block);
    }

    /// <summary>Forgets everything pushed; keeps the configuration. Allocates nothing.</summary>
    public void Reset() => _s = new State
    {
        Frame = new FramedSquares(_s.Frame.FrameLength),
        NoisePercentile = _s.NoisePercentile,
        SpeechMarginDb = _s.SpeechMarginDb,
    };

    /// <summary>Gets the level below which <paramref name="percentile"/> % of frame levels fall; false before the first frame.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="percentile"/> is not in [0, 100].</exception>
    public bool TryGetPercentileDbFs(double percentile, out double levelDbFs)
    {
        if (!(percentile >= 0 && percentile <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "Percentile must be in [0, 100].");
        }

        levelDbFs = Dbfs.FloorDbFs;
        if (_s.FrameCount == 0)
        {
            return false;
        }

        double target = percentile / 100.0 * _s.FrameCount;
        long below = 0;
        for (int i = 0; i < BinCount; i++)
        {
            int n = _s.Counts[i];
            if (n == 0)
            {
                continue;
            }

            if (below + n >= target)
            {
                // Frames are assumed spread evenly across the bin.
                double within = Math.Clamp((target - below) / n, 0.0, 1.0);
                levelDbFs = HistogramMinDbFs + (i + within) * BinWidthDb;
                return true;
            }

            below += n;
        }

        levelDbFs = HistogramMaxDbFs;
        return true;
    }

    /// <summary>
    /// Gets the SNR estimate; false when no frame has been analysed or no frame rose the speech
    /// margin above the noise floor (no speech, or SNR below about 5 dB).
    /// </summary>
    public bool TryGetEstimate(out SnrEstimate estimate)
    {
        estimate = default;
        if (!TryGetPercentileDbFs(_s.NoisePercentile, out double noiseDbFs))
        {
            return false;
        }

        double speechThresholdDbFs = noiseDbFs + _s.SpeechMarginDb;
        double speechPower = 0;
        int speechFrames = 0;
        for (int i = 0; i < BinCount; i++)
        {
            double centre = HistogramMinDbFs + (i + 0.5) * BinWidthDb;
            if (centre >= speechThresholdDbFs && _s.Counts[i] > 0)
            {
                speechFrames += _s.Counts[i];
                speechPower += _s.Power[i];
            }
        }

        if (speechFrames == 0)
        {
            return false;
        }

        double meanSpeechPower = speechPower / speechFrames;
        double noisePower = Dbfs.ToMeanSquare(noiseDbFs);
        double snrDb = 10.0 * Math.Log10((meanSpeechPower - noisePower) / noisePower);
        estimate = new SnrEstimate(snrDb, noiseDbFs, Dbfs.FromMeanSquare(meanSpeechPower), speechFrames, _s.FrameCount);
        return true;
    }

    internal void PushUnchecked(ReadOnlySpan<float> block)
    {
        int offset = 0;
        while (offset < block.Length)
        {
            offset += _s.Frame.Consume(block[offset..], out bool complete);
            if (complete)
            {
                double power = _s.Frame.MeanSquare;
                double db = Dbfs.FromMeanSquare(power);
                int bin = (int)Math.Floor((db - HistogramMinDbFs) / BinWidthDb);
                bin = Math.Clamp(bin, 0, BinCount - 1);
                _s.Counts[bin]++;
                _s.Power[bin] += power;
                _s.FrameCount++;
                _s.Frame.Clear();
            }
        }
    }

    [InlineArray(BinCount)]
    private struct BinCounts
    {
        private int _element;
    }

    [InlineArray(BinCount)]
    private struct BinPowers
    {
        private double _element;
    }

    // Sequential layout, widest fields first.
    private struct State
    {
        public BinPowers Power;
        public FramedSquares Frame;
        public double NoisePercentile;
        public double SpeechMarginDb;
        public BinCounts Counts;
        public int FrameCount;
    }
}

using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Quality;

/// <summary>
/// Runs the level meter, clipping detector, SNR estimator and energy VAD over the same stream and
/// summarises a finished clip as a <see cref="TakeQuality"/>.
/// </summary>
/// <remarks>
/// Allocation: the four parts are created in the constructor (<see cref="StateBytes"/> bytes in
/// all); <see cref="Push"/>, <see cref="GetSummary"/> and <see cref="Reset"/> allocate nothing,
/// so one analyzer can be reused for take after take on the device. Each block is checked for
/// NaN/infinity once and then given to every part.
/// </remarks>
public sealed class TakeQualityAnalyzer
{
    private readonly Parts _p;

    /// <summary>Creates an analyzer; all parts use their defaults at <paramref name="sampleRateHz"/> unless <paramref name="vadSettings"/> is given.</summary>
    /// <param name="sampleRateHz">Sample rate of the clips.</param>
    /// <param name="vadSettings">VAD tuning; its sample rate must equal <paramref name="sampleRateHz"/>.</param>
    public TakeQualityAnalyzer(int sampleRateHz = QualityThresholds.DefaultSampleRateHz, EnergyVadSettings? vadSettings = null)
    {
        vadSettings ??= new EnergyVadSettings { SampleRateHz = sampleRateHz };
        if (vadSettings.SampleRateHz != sampleRateHz)
        {
            throw new ArgumentException(
                $"VAD settings are for {vadSettings.SampleRateHz} Hz but the analyzer is for {sampleRateHz} Hz.", nameof(vadSettings));
        }

        _p = new Parts
        {
            Level = new LevelMeter(sampleRateHz),
            Clipping = new ClippingDetector(),
            Snr = new SnrEstimator(sampleRateHz),
            Vad = new EnergyVad(vadSettings),
            SampleRateHz = sampleRateHz,
        };
    }

    /// <summary>
    /// Exact bytes of state: the four parts' <c>StateBytes</c> plus this object's own fields
    /// (four references and the sample rate). Object headers are not counted.
    /// </summary>
    public static int StateBytes =>
        Unsafe.SizeOf<Parts>() + LevelMeter.StateBytes + ClippingDetector.StateBytes + SnrEstimator.StateBytes + EnergyVad.StateBytes;

    /// <summary>Summarises one whole clip with a fresh analyzer (allocates the analyzer; for tools, not the device hot path).</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite.</exception>
    public static TakeQuality Analyze(ReadOnlySpan<float> clip, int sampleRateHz = QualityThresholds.DefaultSampleRateHz)
    {
        var analyzer = new TakeQualityAnalyzer(sampleRateHz);
        analyzer.Push(clip);
        return analyzer.GetSummary();
    }

    /// <summary>The level meter (also usable for a live level while the take runs).</summary>
    public LevelMeter Level => _p.Level;

    /// <summary>The VAD (its <see cref="EnergyVad.IsInSpeech"/> can drive a live prompt).</summary>
    public EnergyVad Vad => _p.Vad;

    /// <summary>Adds a block of samples (any length, including zero) to every part.</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite; nothing is changed.</exception>
    public void Push(ReadOnlySpan<float> block)
    {
        SampleBlock.ThrowIfNotFinite(block);
        _p.Level.PushUnchecked(block);
        _p.Clipping.PushUnchecked(block);
        _p.Snr.PushUnchecked(block);
        _p.Vad.PushUnchecked(block);
    }

    /// <summary>Figures over everything pushed since construction or <see cref="Reset"/>.</summary>
    public TakeQuality GetSummary()
    {
        SnrEstimate? snr = _p.Snr.TryGetEstimate(out SnrEstimate e) ? e : null;
        SpeechSegment? main = _p.Vad.TryGetMainSegment(out SpeechSegment m) ? m : null;
        SpeechSegment? span = _p.Vad.TryGetSpeechSpan(out SpeechSegment s) ? s : null;
        return new TakeQuality(_p.SampleRateHz, _p.Level.Total, _p.Clipping.Reading, snr, main, span, _p.Vad.SegmentCount);
    }

    /// <summary>Starts a new take; allocates nothing.</summary>
    public void Reset()
    {
        _p.Level.Reset();
        _p.Clipping.Reset();
        _p.Snr.Reset();
        _p.Vad.Reset();
    }

    private struct Parts
    {
        public LevelMeter Level;
        public ClippingDetector Clipping;
        public SnrEstimator Snr;
        public EnergyVad Vad;
        public int SampleRateHz;
    }
}

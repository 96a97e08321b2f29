using System.Globalization;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// The per-take checks that need no other take: speech found by the VAD, no clipping, speech not too
/// quiet, SNR above the minimum, main speech segment within the phrase's bounds. Every failing check
/// is reported with the measured figure, the limit and a hint. Take-to-take consistency is
/// <see cref="TakeFeatureBank"/>'s.
/// </summary>
/// <remarks>Memory: the quality analyzer and one conversion block, allocated in the constructor; a check
/// allocates only the failure texts.</remarks>
internal sealed class TakeQualityChecks
{
    private const int BlockSamples = 320;

    private readonly EnrollmentPolicy _policy;
    private readonly TakeQualityAnalyzer _analyzer;
    private readonly float[] _block = new float[BlockSamples];
    private readonly int _sampleRateHz;

    public TakeQualityChecks(EnrollmentPolicy policy, int sampleRateHz)
    {
        _policy = policy;
        _sampleRateHz = sampleRateHz;
        _analyzer = new TakeQualityAnalyzer(sampleRateHz);
    }

    /// <summary>Exact bytes of state: the conversion block plus <see cref="TakeQualityAnalyzer.StateBytes"/>.</summary>
    public int StateBytes => (_block.Length * sizeof(float)) + TakeQualityAnalyzer.StateBytes;

    /// <summary>
    /// Measures <paramref name="take"/>, appends every failing check to <paramref name="failures"/> and returns
    /// the figures. <paramref name="mainSpeech"/> is the main speech segment, or null when the VAD found none.
    /// </summary>
    public TakeFigures Check(ReadOnlySpan<short> take, List<TakeFailure> failures, out SpeechSegment? mainSpeech)
    {
        _analyzer.Reset();
        for (int at = 0; at < take.Length; at += BlockSamples)
        {
            ReadOnlySpan<short> part = take.Slice(at, Math.Min(BlockSamples, take.Length - at));
            Pcm16.ToFloat(part, _block);
            _analyzer.Push(_block.AsSpan(0, part.Length));
        }

        TakeQuality q = _analyzer.GetSummary();
        mainSpeech = q.MainSpeech;
        var fig = new TakeFigures
        {
            RecordingMs = MsOf(take.Length),
            SpeechMs = q.MainSpeech?.DurationMs,
            SpeechStartMs = q.MainSpeech?.StartMs,
            SnrDb = q.Snr?.SnrDb,
            NoiseFloorDbFs = q.Snr?.NoiseFloorDbFs,
            PeakDbFs = q.Level.PeakDbFs,
            ClippedRatio = q.Clipping.ClippedRatio,
            ClippedRuns = q.Clipping.ClippedRunCount,
        };

        string phrase = _policy.Phrase;
        if (q.MainSpeech is not SpeechSegment speech)
        {
            string level = q.Level.PeakDbFs < -60
                ? Inv($" (the recording is near silent: peak {q.Level.PeakDbFs:F0} dBFS)")
                : string.Empty;
            failures.Add(new TakeFailure(EnrollmentCheck.NoSpeech, "no speech heard" + level,
                $"say \"{phrase}\" after the prompt; check that the microphone is connected and not muted"));
            if (q.Clipping.ShowsClipping)
            {
                failures.Add(ClippedFailure(q.Clipping));
            }

            return fig;
        }

        double speechRms = SpeechRmsDbFs(take.Slice((int)speech.StartSample, (int)speech.DurationSamples));
        fig = fig with { SpeechRmsDbFs = speechRms };

        if (q.Clipping.ShowsClipping)
        {
            failures.Add(ClippedFailure(q.Clipping));
        }

        if (speechRms < _policy.MinSpeechRmsDbFs)
        {
            failures.Add(new TakeFailure(EnrollmentCheck.TooQuiet,
                Inv($"too quiet: speech at {speechRms:F1} dBFS, {_policy.MinSpeechRmsDbFs:F0} dBFS needed"),
                "move closer to the microphone or raise the input gain"));
        }

        if (q.Snr is not SnrEstimate snr || snr.SnrDb <= _policy.MinSnrDb)
        {
            string figure = q.Snr is SnrEstimate s ? Inv($"{s.SnrDb:F1} dB SNR") : "SNR below 5 dB";
            failures.Add(new TakeFailure(EnrollmentCheck.LowSnr,
                Inv($"background noise: {figure}, {_policy.MinSnrDb:F0} dB needed"),
                "move somewhere quieter (or closer to the microphone) and try again"));
        }

        if (speech.DurationMs < _policy.MinSpeechMs)
        {
            failures.Add(new TakeFailure(EnrollmentCheck.TooShort,
                Inv($"too short: {speech.DurationMs:F0} ms, say the whole phrase ({_policy.MinSpeechMs}-{_policy.MaxSpeechMs} ms)"),
                $"say the whole phrase \"{phrase}\" at your normal pace"));
        }
        else if (speech.DurationMs > _policy.MaxSpeechMs)
        {
            failures.Add(new TakeFailure(EnrollmentCheck.TooLong,
                Inv($"too long: {speech.DurationMs:F0} ms, at most {_policy.MaxSpeechMs} ms"),
                $"say just \"{phrase}\" at your normal pace, without pausing in between"));
        }

        return fig;
    }

    /// <summary>A recording of <paramref name="sampleCount"/> samples that does not fit the take buffer.</summary>
    public TakeFailure OverlongRecording(long sampleCount) => new(EnrollmentCheck.TooLong,
        Inv($"recording too long: {MsOf(sampleCount) / 1000:F1} s, at most {_policy.MaxTakeMs / 1000.0:F1} s per take"),
        $"trim the recording to the phrase \"{_policy.Phrase}\" with a short pause before and after");

    /// <summary>Speech passed every check here, yet is shorter than one MFCC frame.</summary>
    public TakeFailure NoFullMfccFrame(SpeechSegment speech) => new(EnrollmentCheck.TooShort,
        Inv($"too short: {speech.DurationMs:F0} ms, no full MFCC frame"), $"say the whole phrase \"{_policy.Phrase}\"");

    /// <summary>The mean DTW distance to the accepted takes is over the policy's threshold.</summary>
    public TakeFailure Inconsistent(double meanDistance) => new(EnrollmentCheck.Inconsistent,
        Inv($"doesn't match your other takes: DTW distance {meanDistance:F1}, at most {_policy.MaxDtwDistance:F1}"),
        $"say the same phrase, \"{_policy.Phrase}\", the way you said it in the accepted takes");

    /// <summary>Milliseconds of <paramref name="samples"/> at the MFCC sample rate.</summary>
    public double MsOf(long samples) => samples * 1000.0 / _sampleRateHz;

    private static TakeFailure ClippedFailure(ClippingReading c) => new(EnrollmentCheck.Clipped,
        Inv($"clipped: {c.ClippedRatio * 100:F2} % of samples at full scale, {c.ClippedRunCount} clipped runs (limit: over {QualityThresholds.MaxClippedSampleRatio * 100:F1} % or any run of {QualityThresholds.MinClippedRunSamples}+ samples)"),
        "move back from the microphone or lower the input gain");

    private static double SpeechRmsDbFs(ReadOnlySpan<short> segment)
    {
        double sum = 0;
        foreach (short s in segment)
        {
            double x = s / (double)Pcm16.Scale;
            sum += x * x;
        }

        return Dbfs.FromMeanSquare(segment.Length == 0 ? 0 : sum / segment.Length);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

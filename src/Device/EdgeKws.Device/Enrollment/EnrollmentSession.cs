using System.Globalization;
using System.Runtime.CompilerServices;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// Checks enrollment takes one attempt at a time and keeps the accepted ones, inside a fixed memory
/// budget (<see cref="StateBytes"/>) sized from the policy at construction.
/// </summary>
/// <remarks>
/// <para>Checks per attempt, in order (every failing one is reported): speech found by the VAD;
/// no clipping; speech not too quiet; SNR above the minimum; main speech segment within the
/// phrase's bounds; then, only if all of those passed and a take was already accepted, the mean DTW
/// distance (<see cref="DtwDistance"/>) between this take's MFCCs (main speech segment) and those of
/// every accepted take. A take is accepted only with no failure. After
/// <see cref="EnrollmentPolicy.MaxAttemptsPerTake"/> failed attempts of one take the enrollment
/// fails (<see cref="IsFailed"/>).</para>
/// <para>Memory: every buffer (take audio, MFCCs of all accepted takes plus one candidate, DTW
/// rows, figures) is allocated in the constructor; <see cref="StateBytes"/> is their exact size
/// plus the quality analyzer's and MFCC extractor's state. An attempt allocates only its
/// <see cref="TakeResult"/> (and the failure texts), never per sample or per frame.</para>
/// <para>Not thread-safe: one session belongs to one enrollment run.</para>
/// </remarks>
public sealed class EnrollmentSession
{
    private const int BlockSamples = 320;

    private readonly EnrollmentPolicy _policy;
    private readonly MfccExtractor _mfcc;
    private readonly TakeQualityAnalyzer _analyzer;
    private readonly short[] _take;
    private readonly float[] _block;
    private readonly float[] _features;   // (TakeCount + 1) slots of MaxFrames x C; the last slot is the candidate
    private readonly int[] _frames;       // TakeCount + 1
    private readonly double[] _means;     // (TakeCount + 1) x C
    private readonly double[] _dtwScratch;
    private readonly double[] _pairwise;  // TakeCount x TakeCount, filled by BuildEnrollment
    private readonly TakeFigures[] _figures;
    private readonly int[] _rejections;   // by EnrollmentCheck value
    private readonly int _maxFrames;
    private readonly int _coefficients;
    private readonly int _sampleRateHz;

    /// <summary>Creates a session; throws <see cref="ArgumentException"/> naming the field if the policy is invalid.</summary>
    public EnrollmentSession(EnrollmentPolicy policy, MfccConfig? mfccConfig = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (!policy.TryValidate(out string why))
        {
            throw new ArgumentException("enrollment policy: " + why, nameof(policy));
        }

        mfccConfig ??= MfccConfig.Default;
        _policy = policy;
        _mfcc = new MfccExtractor(mfccConfig);
        _sampleRateHz = mfccConfig.SampleRateHz;
        _analyzer = new TakeQualityAnalyzer(_sampleRateHz);
        _coefficients = mfccConfig.CoefficientCount;
        _maxFrames = mfccConfig.FrameCount(SamplesOf(policy.MaxSpeechMs));
        _take = new short[SamplesOf(policy.MaxTakeMs)];
        _block = new float[BlockSamples];
        _features = new float[(policy.TakeCount + 1) * _maxFrames * _coefficients];
        _frames = new int[policy.TakeCount + 1];
        _means = new double[(policy.TakeCount + 1) * _coefficients];
        _dtwScratch = new double[DtwDistance.ScratchLength(_maxFrames)];
        _pairwise = new double[policy.TakeCount * policy.TakeCount];
        _figures = new TakeFigures[policy.TakeCount];
        _rejections = new int[8];
        FeatureConfigHash = mfccConfig.FeatureConfigHash;
        Attempt = 1;
    }

    /// <summary>The policy in force.</summary>
    public EnrollmentPolicy Policy => _policy;

    /// <summary>Hash of the MFCC configuration the features are computed with.</summary>
    public string FeatureConfigHash { get; }

    /// <summary>
    /// Exact bytes of state: every array's length x element size, plus the quality analyzer's
    /// (<see cref="TakeQualityAnalyzer.StateBytes"/>) and the MFCC extractor's
    /// (<see cref="MfccExtractor.StateBytes"/>) state. Object headers and scalar fields are not
    /// counted. Fixed at construction; the default policy needs 171,972 bytes, of which 128,000
    /// are the 4 s take buffer.
    /// </summary>
    public int StateBytes =>
        (_take.Length * sizeof(short))
        + (_block.Length * sizeof(float))
        + (_features.Length * sizeof(float))
        + (_frames.Length * sizeof(int))
        + (_means.Length * sizeof(double))
        + (_dtwScratch.Length * sizeof(double))
        + (_pairwise.Length * sizeof(double))
        + (_figures.Length * Unsafe.SizeOf<TakeFigures>())
        + (_rejections.Length * sizeof(int))
        + TakeQualityAnalyzer.StateBytes
        + _mfcc.StateBytes;

    /// <summary>Most MFCC frames kept per take (those of the longest allowed speech segment).</summary>
    public int MaxFramesPerTake => _maxFrames;

    /// <summary>Capacity of the take buffer in samples (<see cref="EnrollmentPolicy.MaxTakeMs"/>).</summary>
    public int TakeCapacitySamples => _take.Length;

    /// <summary>The take buffer a recorder fills in place before <see cref="SubmitBufferedTake"/>.</summary>
    public Span<short> TakeBuffer => _take;

    /// <summary>Takes accepted so far.</summary>
    public int AcceptedCount { get; private set; }

    /// <summary>Attempts made so far (accepted and rejected).</summary>
    public int AttemptCount { get; private set; }

    /// <summary>1-based attempt number the next submission will be for the current take.</summary>
    public int Attempt { get; private set; }

    /// <summary>1-based take the next submission is for.</summary>
    public int CurrentTakeNumber => AcceptedCount + 1;

    /// <summary>All takes accepted.</summary>
    public bool IsComplete => AcceptedCount == _policy.TakeCount;

    /// <summary>A take used up its attempts.</summary>
    public bool IsFailed { get; private set; }

    /// <summary>Figures of the accepted takes, in order.</summary>
    public ReadOnlySpan<TakeFigures> AcceptedFigures => _figures.AsSpan(0, AcceptedCount);

    /// <summary>Rejected attempts per check so far.</summary>
    public EnrollmentCheckCounts RejectionCounts => new()
    {
        NoSpeech = _rejections[(int)EnrollmentCheck.NoSpeech],
        TooShort = _rejections[(int)EnrollmentCheck.TooShort],
        TooLong = _rejections[(int)EnrollmentCheck.TooLong],
        LowSnr = _rejections[(int)EnrollmentCheck.LowSnr],
        Clipped = _rejections[(int)EnrollmentCheck.Clipped],
        TooQuiet = _rejections[(int)EnrollmentCheck.TooQuiet],
        Inconsistent = _rejections[(int)EnrollmentCheck.Inconsistent],
    };

    /// <summary>Checks a take held elsewhere (a WAV file); it is copied into the take buffer.</summary>
    public TakeResult SubmitTake(ReadOnlySpan<short> take)
    {
        if (take.Length > _take.Length)
        {
            return RejectOverlongRecording(take.Length);
        }

        take.CopyTo(_take);
        return SubmitBufferedTake(take.Length);
    }

    /// <summary>
    /// Rejects (as <see cref="EnrollmentCheck.TooLong"/>) a recording of <paramref name="sampleCount"/>
    /// samples that does not fit the take buffer, without reading it.
    /// </summary>
    public TakeResult RejectOverlongRecording(long sampleCount)
    {
        ThrowIfDone();
        var figures = new TakeFigures { RecordingMs = MsOf(sampleCount) };
        return Reject(figures, [new TakeFailure(EnrollmentCheck.TooLong,
            Inv($"recording too long: {MsOf(sampleCount) / 1000:F1} s, at most {_policy.MaxTakeMs / 1000.0:F1} s per take"),
            $"trim the recording to the phrase \"{_policy.Phrase}\" with a short pause before and after")]);
    }

    /// <summary>Checks the first <paramref name="sampleCount"/> samples of <see cref="TakeBuffer"/>.</summary>
    public TakeResult SubmitBufferedTake(int sampleCount)
    {
        ThrowIfDone();
        ArgumentOutOfRangeException.ThrowIfNegative(sampleCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sampleCount, _take.Length);
        ReadOnlySpan<short> take = _take.AsSpan(0, sampleCount);

        _analyzer.Reset();
        for (int at = 0; at < take.Length; at += BlockSamples)
        {
            ReadOnlySpan<short> part = take.Slice(at, Math.Min(BlockSamples, take.Length - at));
            Pcm16.ToFloat(part, _block);
            _analyzer.Push(_block.AsSpan(0, part.Length));
        }

        TakeQuality q = _analyzer.GetSummary();
        var fig = new TakeFigures
        {
            RecordingMs = MsOf(sampleCount),
            SpeechMs = q.MainSpeech?.DurationMs,
            SpeechStartMs = q.MainSpeech?.StartMs,
            SnrDb = q.Snr?.SnrDb,
            NoiseFloorDbFs = q.Snr?.NoiseFloorDbFs,
            PeakDbFs = q.Level.PeakDbFs,
            ClippedRatio = q.Clipping.ClippedRatio,
            ClippedRuns = q.Clipping.ClippedRunCount,
        };

        var failures = new List<TakeFailure>(4);
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

            return Reject(fig, failures);
        }

        int start = (int)speech.StartSample;
        int length = (int)speech.DurationSamples;
        double speechRms = SpeechRmsDbFs(take.Slice(start, length));
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

        if (failures.Count > 0)
        {
            return Reject(fig, failures);
        }

        // MFCCs of the main speech segment into the candidate slot.
        int slot = _policy.TakeCount;
        Span<float> candidate = Slot(slot);
        _mfcc.Reset();
        int frames = _mfcc.Push(take.Slice(start, length), candidate);
        if (frames < 1)
        {
            failures.Add(new TakeFailure(EnrollmentCheck.TooShort,
                Inv($"too short: {speech.DurationMs:F0} ms, no full MFCC frame"), $"say the whole phrase \"{phrase}\""));
            return Reject(fig, failures);
        }

        _frames[slot] = frames;
        DtwDistance.ComputeMean(candidate, frames, _coefficients, Mean(slot));
        if (AcceptedCount > 0)
        {
            double sum = 0;
            for (int k = 0; k < AcceptedCount; k++)
            {
                sum += Distance(slot, k);
            }

            double mean = sum / AcceptedCount;
            fig = fig with { DtwDistance = mean };
            if (mean > _policy.MaxDtwDistance)
            {
                failures.Add(new TakeFailure(EnrollmentCheck.Inconsistent,
                    Inv($"doesn't match your other takes: DTW distance {mean:F1}, at most {_policy.MaxDtwDistance:F1}"),
                    $"say the same phrase, \"{phrase}\", the way you said it in the accepted takes"));
                return Reject(fig, failures);
            }
        }

        // Accept: move the candidate into the next slot.
        int into = AcceptedCount;
        candidate[..(frames * _coefficients)].CopyTo(Slot(into));
        Mean(slot).CopyTo(Mean(into));
        _frames[into] = frames;
        _figures[into] = fig;
        var result = new TakeResult(CurrentTakeNumber, Attempt, fig, [], EnrollmentFailed: false);
        AcceptedCount++;
        AttemptCount++;
        Attempt = 1;
        return result;
    }

    /// <summary>
    /// The finished enrollment: every take's MFCCs and figures, and the speaker template, the DTW
    /// medoid (the take with the smallest summed distance to the others).
    /// </summary>
    /// <exception cref="InvalidOperationException">Not every take is accepted yet.</exception>
    public EnrollmentData BuildEnrollment(DateTimeOffset createdUtc)
    {
        if (!IsComplete)
        {
            throw new InvalidOperationException($"only {AcceptedCount} of {_policy.TakeCount} takes are accepted.");
        }

        int n = AcceptedCount;
        for (int i = 0; i < n; i++)
        {
            _pairwise[(i * n) + i] = 0;
            for (int j = i + 1; j < n; j++)
            {
                double d = Distance(i, j);
                _pairwise[(i * n) + j] = d;
                _pairwise[(j * n) + i] = d;
            }
        }

        int medoid = 0;
        double best = double.PositiveInfinity;
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += _pairwise[(i * n) + j];
            }

            if (sum < best)
            {
                best = sum;
                medoid = i;
            }
        }

        var takes = new EnrolledTake[n];
        for (int i = 0; i < n; i++)
        {
            takes[i] = new EnrolledTake(
                Slot(i)[..(_frames[i] * _coefficients)].ToArray(),
                _frames[i],
                _figures[i],
                _pairwise[(medoid * n) + i]);
        }

        return new EnrollmentData(FeatureConfigHash, _coefficients, createdUtc, _policy.Phrase, _policy.MaxDtwDistance, takes, medoid);
    }

    /// <summary>The upload-safe summary: figures and counts only (see <see cref="EnrollmentQcReport"/>).</summary>
    public EnrollmentQcReport BuildQcReport(string deviceId, DateTimeOffset deviceTimeUtc, EnrollmentOutcome outcome, EnrollmentData? enrollment = null)
    {
        ReadOnlySpan<TakeFigures> acc = AcceptedFigures;
        double? minSnr = null, sumSnr = null, minMs = null, maxMs = null, minRms = null, maxRms = null;
        foreach (TakeFigures f in acc)
        {
            minSnr = Min(minSnr, f.SnrDb);
            sumSnr = f.SnrDb is double s ? (sumSnr ?? 0) + s : sumSnr;
            minMs = Min(minMs, f.SpeechMs);
            maxMs = Max(maxMs, f.SpeechMs);
            minRms = Min(minRms, f.SpeechRmsDbFs);
            maxRms = Max(maxRms, f.SpeechRmsDbFs);
        }

        double? maxDtw = null;
        if (enrollment is not null)
        {
            foreach (EnrolledTake t in enrollment.Takes)
            {
                maxDtw = Max(maxDtw, t.DtwToTemplate);
            }
        }
        else
        {
            foreach (TakeFigures f in acc)
            {
                maxDtw = Max(maxDtw, f.DtwDistance);
            }
        }

        return new EnrollmentQcReport
        {
            DeviceId = deviceId,
            DeviceTimeUtc = deviceTimeUtc,
            Outcome = outcome,
            FeatureConfigHash = FeatureConfigHash,
            TakesRequested = _policy.TakeCount,
            TakesAccepted = AcceptedCount,
            Attempts = AttemptCount,
            Rejections = RejectionCounts,
            MinSnrDb = Round(minSnr),
            MeanSnrDb = acc.Length > 0 && sumSnr is double total ? Round(total / acc.Length) : null,
            MinSpeechMs = Round(minMs),
            MaxSpeechMs = Round(maxMs),
            MinSpeechRmsDbFs = Round(minRms),
            MaxSpeechRmsDbFs = Round(maxRms),
            MaxDtwDistance = Round(maxDtw),
            DtwThreshold = _policy.MaxDtwDistance,
        };
    }

    private TakeResult Reject(TakeFigures fig, List<TakeFailure> failures)
    {
        foreach (TakeFailure f in failures)
        {
            _rejections[(int)f.Check]++;
        }

        var result = new TakeResult(CurrentTakeNumber, Attempt, fig, failures, EnrollmentFailed: Attempt >= _policy.MaxAttemptsPerTake);
        AttemptCount++;
        if (result.EnrollmentFailed)
        {
            IsFailed = true;
        }
        else
        {
            Attempt++;
        }

        return result;
    }

    private void ThrowIfDone()
    {
        if (IsComplete || IsFailed)
        {
            throw new InvalidOperationException(IsComplete ? "every take is already accepted." : "the enrollment already failed.");
        }
    }

    private static TakeFailure ClippedFailure(ClippingReading c) => new(EnrollmentCheck.Clipped,
        Inv($"clipped: {c.ClippedRatio * 100:F2} % of samples at full scale, {c.ClippedRunCount} clipped runs (limit: over {QualityThresholds.MaxClippedSampleRatio * 100:F1} % or any run of {QualityThresholds.MinClippedRunSamples}+ samples)"),
        "move back from the microphone or lower the input gain");

    private double Distance(int slotA, int slotB) => DtwDistance.Compute(
        Slot(slotA), _frames[slotA], Mean(slotA), Slot(slotB), _frames[slotB], Mean(slotB), _coefficients, _dtwScratch);

    private Span<float> Slot(int slot) => _features.AsSpan(slot * _maxFrames * _coefficients, _maxFrames * _coefficients);

    private Span<double> Mean(int slot) => _means.AsSpan(slot * _coefficients, _coefficients);

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

    private int SamplesOf(int ms) => (int)((long)ms * _sampleRateHz / 1000);

    private double MsOf(long samples) => samples * 1000.0 / _sampleRateHz;

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    private static double? Round(double? v) => v is double x ? Math.Round(x, 2) : null;
}

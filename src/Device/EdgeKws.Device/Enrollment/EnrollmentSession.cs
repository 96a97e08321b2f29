using System.Runtime.CompilerServices;
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
/// <para>This type keeps the attempt bookkeeping; <see cref="TakeQualityChecks"/> runs the checks of one take,
/// <see cref="TakeFeatureBank"/> holds the MFCCs and the DTW comparisons, <see cref="EnrollmentQcSummary"/>
/// reduces the session to the upload-safe report.</para>
/// <para>Not thread-safe: one session belongs to one enrollment run.</para>
/// </remarks>
public sealed class EnrollmentSession
{
    private readonly EnrollmentPolicy _policy;
    private readonly TakeQualityChecks _checks;
    private readonly TakeFeatureBank _bank;
    private readonly short[] _take;
    private readonly TakeFigures[] _figures;
    private readonly int[] _rejections;   // by EnrollmentCheck value

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
        int sampleRateHz = mfccConfig.SampleRateHz;
        _checks = new TakeQualityChecks(policy, sampleRateHz);
        _bank = new TakeFeatureBank(policy.TakeCount, mfccConfig.FrameCount(SamplesOf(policy.MaxSpeechMs, sampleRateHz)), mfccConfig);
        _take = new short[SamplesOf(policy.MaxTakeMs, sampleRateHz)];
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
        + (_figures.Length * Unsafe.SizeOf<TakeFigures>())
        + (_rejections.Length * sizeof(int))
        + _checks.StateBytes
        + _bank.StateBytes;

    /// <summary>Most MFCC frames kept per take (those of the longest allowed speech segment).</summary>
    public int MaxFramesPerTake => _bank.MaxFrames;

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
        var figures = new TakeFigures { RecordingMs = _checks.MsOf(sampleCount) };
        return Reject(figures, [_checks.OverlongRecording(sampleCount)]);
    }

    /// <summary>Checks the first <paramref name="sampleCount"/> samples of <see cref="TakeBuffer"/>.</summary>
    public TakeResult SubmitBufferedTake(int sampleCount)
    {
        ThrowIfDone();
        ArgumentOutOfRangeException.ThrowIfNegative(sampleCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sampleCount, _take.Length);
        ReadOnlySpan<short> take = _take.AsSpan(0, sampleCount);

        var failures = new List<TakeFailure>(4);
        TakeFigures fig = _checks.Check(take, failures, out SpeechSegment? mainSpeech);
        if (failures.Count > 0 || mainSpeech is not SpeechSegment speech)
        {
            return Reject(fig, failures);
        }

        // MFCCs of the main speech segment into the candidate slot.
        int frames = _bank.ComputeCandidate(take.Slice((int)speech.StartSample, (int)speech.DurationSamples));
        if (frames < 1)
        {
            failures.Add(_checks.NoFullMfccFrame(speech));
            return Reject(fig, failures);
        }

        if (AcceptedCount > 0)
        {
            double mean = _bank.MeanDistanceToAccepted(AcceptedCount);
            fig = fig with { DtwDistance = mean };
            if (mean > _policy.MaxDtwDistance)
            {
                failures.Add(_checks.Inconsistent(mean));
                return Reject(fig, failures);
            }
        }

        // Accept: move the candidate into the next slot.
        int into = AcceptedCount;
        _bank.AcceptCandidate(into);
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

        EnrolledTake[] takes = _bank.BuildTakes(AcceptedFigures, out int medoid);
        return new EnrollmentData(FeatureConfigHash, _bank.Coefficients, createdUtc, _policy.Phrase, _policy.MaxDtwDistance, takes, medoid);
    }

    /// <summary>The upload-safe summary: figures and counts only (see <see cref="EnrollmentQcReport"/>).</summary>
    public EnrollmentQcReport BuildQcReport(string deviceId, DateTimeOffset deviceTimeUtc, EnrollmentOutcome outcome, EnrollmentData? enrollment = null) =>
        EnrollmentQcSummary.Build(this, deviceId, deviceTimeUtc, outcome, enrollment);

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

    private static int SamplesOf(int ms, int sampleRateHz) => (int)((long)ms * sampleRateHz / 1000);
}

using System.Collections.Concurrent;
using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Verification;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Labeling;

/// <summary>Counters of the labeling worker since start.</summary>
/// <param name="TrueAccepts">Clips labelled true accept.</param>
/// <param name="FalseAccepts">Clips labelled false accept.</param>
/// <param name="Reviews">Clips sent to the review queue.</param>
/// <param name="ClipFailures">Clips the aligner failed on (sent to review with the error).</param>
/// <param name="RunFailures">Runs that failed as a whole (e.g. the aligner is not installed; retried next interval).</param>
/// <param name="LastProblem">The latest run failure, or null.</param>
/// <param name="NearMisses">Near-miss clips handled (also counted in the three labels above: TrueAccept there means the wake phrase was
/// there, a missed keyword).</param>
public sealed record LabelingCounters(long TrueAccepts, long FalseAccepts, long Reviews, long ClipFailures, long RunFailures, string? LastProblem, long NearMisses = 0);

/// <summary>
/// Labels detections from their trigger clips: for each detection whose clip is stored and that has no label yet, forces the
/// wake phrase onto the raw audio (<see cref="TriggerVerifier"/>: PocketSphinx forced alignment, near-miss competition and
/// phone-loop confidence). A confident match writes a TrueAccept label, a confident miss a FalseAccept label (the labels
/// FA/hour counts); the rest are labelled Unknown and queued for review with the reason. A feature-only clip (no consent to
/// upload raw audio, or audio removed by retention) cannot be aligned: it goes to review with that reason. Every label keeps its
/// provenance (aligner and version, confidence; reviewer null). A bad clip never stops the worker: it goes to review with the
/// error. Runs every <see cref="LabelingOptions.Interval"/> when <see cref="LabelingOptions.Enabled"/>.
/// <para><b>Near misses</b> (score peaks just below a device's threshold) go through the same verifier after the trigger clips: TrueAccept
/// means the wake phrase was there (a keyword the device missed: a labelled positive), FalseAccept that it was not (a negative); the
/// label is written on the near-miss row (<see cref="INearMissStore.WriteNearMissLabel"/>), never on a detection, so FA/hour is untouched.
/// A near miss the worker cannot decide keeps its reason and candidate on its row (the review queue of detections does not show it).</para>
/// </summary>
public sealed class TriggerLabelingService(GatewayService gateway, LabelingOptions options, TimeProvider clock, ILogger<TriggerLabelingService> log) : BackgroundService
{
    /// <summary>Tool recorded for clips sent to review without being aligned.</summary>
    public const string NotAlignedTool = "edgekws-gateway labeling (not aligned)";

    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly ConcurrentDictionary<string, TriggerVerifier> _verifiers = new(StringComparer.Ordinal);
    private PocketSphinxAligner? _aligner;
    private CalibratedLabeler? _calibrated;
    private ClipScorer? _verifierModel;
    private string? _calibrationVersion;
    private long _ta, _fa, _review, _clipFailures, _runFailures, _nearMisses;
    private string? _lastProblem;

    /// <summary>The counters.</summary>
    public LabelingCounters Counters => new(Interlocked.Read(ref _ta), Interlocked.Read(ref _fa), Interlocked.Read(ref _review),
        Interlocked.Read(ref _clipFailures), Interlocked.Read(ref _runFailures), Volatile.Read(ref _lastProblem), Interlocked.Read(ref _nearMisses));

    /// <summary>Whether the worker runs on its timer.</summary>
    public bool Enabled => options.Enabled;

    /// <summary>Labels every waiting clip now (also when disabled: an operator may trigger a run); returns how many clips were handled.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int handled = 0;
            foreach (bool nearMisses in new[] { false, true })
            {
                while (true)
                {
                    DateTimeOffset featureOnlyBefore = clock.GetUtcNow() - options.FeatureOnlyGrace;
                    IReadOnlyList<TriggerClipWork> work = nearMisses
                        ? gateway.Store.ReadUnlabelledNearMissClips(options.BatchClips, featureOnlyBefore)
                        : gateway.Store.ReadUnlabelledTriggerClips(options.BatchClips, featureOnlyBefore);
                    foreach (TriggerClipWork w in work)
                    {
                        await LabelOneAsync(w, cancellationToken).ConfigureAwait(false);
                        handled++;
                    }
                    if (work.Count < options.BatchClips)
                    {
                        break;
                    }
                }
            }
            return handled;
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task LabelOneAsync(TriggerClipWork w, CancellationToken ct)
    {
        string? phrase = !string.IsNullOrWhiteSpace(options.WakePhrase) ? options.WakePhrase : w.Keyword?.Replace('_', ' ');
        if (w.AudioFrame is null)
        {
            Queue(w, "feature-only clip: no raw audio is stored (the device had no consent to upload audio, or retention deleted it); MFCC features cannot be force-aligned, a person decides from context",
                null, null, DetectionLabelKind.Unknown);
            return;
        }
        if (string.IsNullOrWhiteSpace(phrase) || PocketSphinxAligner.Normalise(phrase).Count == 0)
        {
            Queue(w, $"no wake phrase to align: the detection reports no keyword and Gateway:Labeling:WakePhrase is not set", null, null, DetectionLabelKind.Unknown);
            return;
        }

        string wav = Path.Combine(Path.GetTempPath(), $"edgekws-trigger-{Guid.NewGuid():N}.wav");
        try
        {
            await using (FileStream f = File.Create(wav))
            {
                if (!ClipWav.TryWrite(w.AudioFrame, f, out string why))
                {
                    Interlocked.Increment(ref _clipFailures);
                    Queue(w, "clip audio unreadable: " + why, null, null, DetectionLabelKind.Unknown);
                    return;
                }
            }

            // The aligner is created on first use: a gateway without pocketsphinx still runs; the run fails (logged, retried) and clips wait.
            _aligner ??= await PocketSphinxAligner.CreateAsync(cancellationToken: ct).ConfigureAwait(false);
            TriggerVerifier verifier = _verifiers.GetOrAdd(phrase, p => new TriggerVerifier(_aligner, p, options.AcceptAtOrAbove, options.MissBelow,
                options.NearMisses, options.GenerateNearMisses, options.NearMissMarginPerFrame));
            if (options.CalibrationPath is not null)
            {
                await LabelCalibratedAsync(w, wav, verifier, ct).ConfigureAwait(false);
                return;
            }

            TriggerVerdict v;
            try
            {
                v = await verifier.VerifyAsync(wav, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Interlocked.Increment(ref _clipFailures);
                log.LogWarning(ex, "labeling: aligner failed on clip {Clip} of device {Device}", w.ClipId, w.DeviceId);
                Queue(w, "the aligner failed on this clip: " + ex.Message, verifier.Tool, null, DetectionLabelKind.Unknown);
                return;
            }

            var provenance = new LabelProvenance(LabelProvenanceKinds.Aligner, verifier.Tool, v.Confidence, null);
            DateTimeOffset now = clock.GetUtcNow();
            switch (v.Label)
            {
                case TriggerLabel.TrueAccept:
                case TriggerLabel.FalseAccept:
                    DetectionLabelKind kind = v.Label == TriggerLabel.TrueAccept ? DetectionLabelKind.TrueAccept : DetectionLabelKind.FalseAccept;
                    Check(w, Write(w, kind, provenance, null, kind, now));
                    Interlocked.Increment(ref kind == DetectionLabelKind.TrueAccept ? ref _ta : ref _fa);
                    break;
                default:
                    // The likelier label is proposed; a winning near miss proposes a false accept.
                    DetectionLabelKind candidate = v.Reason.StartsWith("near miss", StringComparison.Ordinal) || v.Confidence < 0.5
                        ? DetectionLabelKind.FalseAccept : DetectionLabelKind.TrueAccept;
                    Queue(w, v.Reason, verifier.Tool, v.Confidence, candidate);
                    break;
            }
        }
        finally
        {
            File.Delete(wav);
        }
    }

    // Every signal, one calibrated probability, a label only where it meets the precision target (docs/labeling.md "Calibrated labels").
    private async Task LabelCalibratedAsync(TriggerClipWork w, string wav, TriggerVerifier verifier, CancellationToken ct)
    {
        // Loaded on first use, like the aligner: a bad file fails the run (logged, retried), clips wait and nothing is mislabelled.
        if (_calibrated is null)
        {
            var calibrated = new CalibratedLabeler(LabelCalibration.Load(options.CalibrationPath!), options.TrueAcceptPrecision, options.FalseAcceptPrecision);
            // Loaded first (a model that does not load is never registered), then registered with their lineage before the first
            // label is decided with them; each label's provenance names both. A failure fails the run (retried); nothing is decided.
            ClipScorer? verifierModel = options.VerifierModelPath is null ? null : new ClipScorer(options.VerifierModelPath, ClipScorer.VerifierMaxModelBytes);
            try
            {
                DateTimeOffset now = clock.GetUtcNow();
                LabelingModelRecord calibration = LabelingModelRegistration.RegisterCalibration(gateway.Store, options.CalibrationPath!, now);
                LabelingModelRecord? verifierRecord = options.VerifierModelPath is null ? null : LabelingModelRegistration.RegisterVerifier(gateway.Store, options.VerifierModelPath, now);
                log.LogInformation("labeling: calibration {Calibration} (sha256 {CalibrationHash}) and verifier {Verifier} (sha256 {VerifierHash}) registered",
                    calibration.FileName, calibration.Sha256, verifierRecord?.Version ?? "none", verifierRecord?.Sha256 ?? "-");
                (_calibrated, _verifierModel, _calibrationVersion) = (calibrated, verifierModel, calibration.Version);
            }
            catch
            {
                verifierModel?.Dispose();
                throw;
            }
        }

        LabelDecision d;
        try
        {
            // A near miss's device score lies below the threshold, outside the range the calibration was fitted on: left out.
            (LabelEvidence evidence, _) = await verifier.GatherEvidenceAsync(wav, double.IsFinite(w.DeviceScore) && !w.NearMiss ? w.DeviceScore : null, ct).ConfigureAwait(false);
            if (_verifierModel is not null)
            {
                evidence = evidence with { VerifierScore = _verifierModel.Score(wav) };
            }
            d = _calibrated.Decide(evidence);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Interlocked.Increment(ref _clipFailures);
            log.LogWarning(ex, "labeling: evidence failed on clip {Clip} of device {Device}", w.ClipId, w.DeviceId);
            Queue(w, "gathering the evidence failed on this clip: " + ex.Message, verifier.Tool, null, DetectionLabelKind.Unknown);
            return;
        }

        // The provenance's tool names the method and keeps every signal's value (the review reason has them in words too).
        string tool = string.Create(CultureInfo.InvariantCulture, $"calibrated 1 P {d.ProbabilityTrueAccept:0.000} [{d.Evidence.Compact()}]")
            + (_verifierModel is not null ? $" verifier {_verifierModel.ModelVersion}" : "") + $" cal {_calibrationVersion}; " + verifier.Tool;
        tool = tool.Length <= LabelingArgumentRules.MaxToolLength ? tool : tool[..LabelingArgumentRules.MaxToolLength];
        if (d.Label == TriggerLabel.NeedsReview)
        {
            Queue(w, d.Reason, tool, d.ProbabilityTrueAccept, d.ProbabilityTrueAccept >= 0.5 ? DetectionLabelKind.TrueAccept : DetectionLabelKind.FalseAccept);
            return;
        }

        DetectionLabelKind kind = d.Label == TriggerLabel.TrueAccept ? DetectionLabelKind.TrueAccept : DetectionLabelKind.FalseAccept;
        var provenance = new LabelProvenance(LabelProvenanceKinds.Aligner, tool, d.ProbabilityTrueAccept, null);
        Check(w, Write(w, kind, provenance, null, kind, clock.GetUtcNow()));
        Interlocked.Increment(ref kind == DetectionLabelKind.TrueAccept ? ref _ta : ref _fa);
    }

    private void Queue(TriggerClipWork w, string reason, string? tool, double? confidence, DetectionLabelKind candidate)
    {
        string t = tool ?? NotAlignedTool;
        Check(w, Write(w, DetectionLabelKind.Unknown, new LabelProvenance(LabelProvenanceKinds.Aligner, t, confidence, null), reason, candidate, clock.GetUtcNow()));
        Interlocked.Increment(ref _review);
    }

    /// <summary>A detection's label goes to its label (and the review queue when Unknown); a near miss's to its own row.</summary>
    private string? Write(TriggerClipWork w, DetectionLabelKind kind, LabelProvenance provenance, string? reason, DetectionLabelKind candidate, DateTimeOffset now)
    {
        if (w.NearMiss)
        {
            Interlocked.Increment(ref _nearMisses);
            return gateway.Store.WriteNearMissLabel(w.DeviceId, w.Sequence, kind, provenance, reason, candidate, now);
        }
        return gateway.Store.WriteAutomaticLabel(new DetectionLabel(w.DeviceId, w.Sequence, kind, LabelSources.Aligner(provenance.Tool), now),
            provenance, reason, candidate, w.ClipId);
    }

    private void Check(TriggerClipWork w, string? refused)
    {
        if (refused is not null)
        {
            // The detection was erased between read and write: nothing to label.
            log.LogWarning("labeling: label of ({Device}, {Seq}) refused: {Reason}", w.DeviceId, w.Sequence.ToString(CultureInfo.InvariantCulture), refused);
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Interlocked.Increment(ref _runFailures);
                Volatile.Write(ref _lastProblem, ex.Message);
                log.LogError(ex, "trigger labeling failed; retrying in {Interval}", options.Interval);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                await Task.Delay(options.Interval, clock, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _verifierModel?.Dispose();
        _running.Dispose();
        base.Dispose();
    }
}

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
public sealed record LabelingCounters(long TrueAccepts, long FalseAccepts, long Reviews, long ClipFailures, long RunFailures, string? LastProblem);

/// <summary>
/// Labels detections from their trigger clips: for each detection whose clip is stored and that has no label yet, forces the
/// wake phrase onto the raw audio (<see cref="TriggerVerifier"/>: PocketSphinx forced alignment, near-miss competition and
/// phone-loop confidence). A confident match writes a TrueAccept label, a confident miss a FalseAccept label (the labels
/// FA/hour counts); the rest are labelled Unknown and queued for review with the reason. A feature-only clip (no consent to
/// upload raw audio, or audio removed by retention) cannot be aligned: it goes to review with that reason. Every label keeps its
/// provenance (aligner and version, confidence; reviewer null). A bad clip never stops the worker: it goes to review with the
/// error. Runs every <see cref="LabelingOptions.Interval"/> when <see cref="LabelingOptions.Enabled"/>.
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
    private long _ta, _fa, _review, _clipFailures, _runFailures;
    private string? _lastProblem;

    /// <summary>The counters.</summary>
    public LabelingCounters Counters => new(Interlocked.Read(ref _ta), Interlocked.Read(ref _fa), Interlocked.Read(ref _review),
        Interlocked.Read(ref _clipFailures), Interlocked.Read(ref _runFailures), Volatile.Read(ref _lastProblem));

    /// <summary>Whether the worker runs on its timer.</summary>
    public bool Enabled => options.Enabled;

    /// <summary>Labels every waiting clip now (also when disabled: an operator may trigger a run); returns how many clips were handled.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int handled = 0;
            while (true)
            {
                IReadOnlyList<TriggerClipWork> work = gateway.Store.ReadUnlabelledTriggerClips(options.BatchClips, clock.GetUtcNow() - options.FeatureOnlyGrace);
                foreach (TriggerClipWork w in work)
                {
                    await LabelOneAsync(w, cancellationToken).ConfigureAwait(false);
                    handled++;
                }
                if (work.Count < options.BatchClips)
                {
                    return handled;
                }
            }
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
                    Check(w, gateway.Store.WriteAutomaticLabel(new DetectionLabel(w.DeviceId, w.Sequence, kind, LabelingValues.AlignerSource(verifier.Tool), now),
                        provenance, null, kind, w.ClipId));
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
        _calibrated ??= new CalibratedLabeler(LabelCalibration.Load(options.CalibrationPath!), options.TrueAcceptPrecision, options.FalseAcceptPrecision);
        if (options.VerifierModelPath is not null)
        {
            _verifierModel ??= new ClipScorer(options.VerifierModelPath, ClipScorer.VerifierMaxModelBytes);
        }

        LabelDecision d;
        try
        {
            (LabelEvidence evidence, _) = await verifier.GatherEvidenceAsync(wav, double.IsFinite(w.DeviceScore) ? w.DeviceScore : null, ct).ConfigureAwait(false);
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
            + (_verifierModel is not null ? $" verifier {_verifierModel.ModelVersion}" : "") + "; " + verifier.Tool;
        tool = tool.Length <= LabelingValues.MaxToolLength ? tool : tool[..LabelingValues.MaxToolLength];
        if (d.Label == TriggerLabel.NeedsReview)
        {
            Queue(w, d.Reason, tool, d.ProbabilityTrueAccept, d.ProbabilityTrueAccept >= 0.5 ? DetectionLabelKind.TrueAccept : DetectionLabelKind.FalseAccept);
            return;
        }

        DetectionLabelKind kind = d.Label == TriggerLabel.TrueAccept ? DetectionLabelKind.TrueAccept : DetectionLabelKind.FalseAccept;
        var provenance = new LabelProvenance(LabelProvenanceKinds.Aligner, tool, d.ProbabilityTrueAccept, null);
        Check(w, gateway.Store.WriteAutomaticLabel(new DetectionLabel(w.DeviceId, w.Sequence, kind, LabelingValues.AlignerSource(tool), clock.GetUtcNow()),
            provenance, null, kind, w.ClipId));
        Interlocked.Increment(ref kind == DetectionLabelKind.TrueAccept ? ref _ta : ref _fa);
    }

    private void Queue(TriggerClipWork w, string reason, string? tool, double? confidence, DetectionLabelKind candidate)
    {
        string t = tool ?? NotAlignedTool;
        var label = new DetectionLabel(w.DeviceId, w.Sequence, DetectionLabelKind.Unknown, LabelingValues.AlignerSource(t), clock.GetUtcNow());
        Check(w, gateway.Store.WriteAutomaticLabel(label, new LabelProvenance(LabelProvenanceKinds.Aligner, t, confidence, null), reason, candidate, w.ClipId));
        Interlocked.Increment(ref _review);
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

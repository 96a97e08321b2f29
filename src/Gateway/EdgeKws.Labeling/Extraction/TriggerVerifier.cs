using EdgeKws.Labeling.Alignment;

namespace EdgeKws.Labeling.Extraction;

/// <summary>What a device trigger clip turned out to be.</summary>
public enum TriggerLabel
{
    /// <summary>The wake phrase is in the clip: the detection was right.</summary>
    TrueAccept,

    /// <summary>The wake phrase is not in the clip: a false wake (counts toward FA/hour).</summary>
    FalseAccept,

    /// <summary>Not sure either way: a person decides.</summary>
    NeedsReview,
}

/// <summary>The verdict on one trigger clip, with the evidence and its source.</summary>
/// <param name="Label">True accept, false accept, or needs review.</param>
/// <param name="Confidence">Aligner confidence that the wake phrase is there (0 when it could not be aligned).</param>
/// <param name="Phrase">The wake phrase's interval in the clip when aligned, else null.</param>
/// <param name="Source">Aligner and version with the confidence.</param>
/// <param name="Reason">Why this verdict.</param>
public sealed record TriggerVerdict(TriggerLabel Label, double Confidence, WordSpan? Phrase, LabelSource Source, string Reason);

/// <summary>
/// Verifies device trigger clips. Three checks, in order:
/// <list type="number">
/// <item>Force the wake phrase onto the clip: no path is a confident miss (false accept).</item>
/// <item>Let the wake phrase compete with its near misses (<see cref="NearMisses"/> plus the caller's own phrases) in one
/// grammar: when a near miss wins, the clip is not the wake phrase. A win by at least <see cref="NearMissMarginPerFrame"/>
/// is a false accept, a narrower one goes to review. A near miss never becomes a true accept.</item>
/// <item>The forced alignment's confidence against a free phone loop: at or above <see cref="AcceptAtOrAbove"/> a true
/// accept, under <see cref="MissBelow"/> a false accept (unrelated speech, noise), between them review.</item>
/// </list>
/// The confidence alone cannot tell "hey hedge" from "hey edge" (one short phone in a phrase of a dozen); the competition can.
/// </summary>
public sealed class TriggerVerifier
{
    /// <summary>Version of this decision procedure, recorded in every label's source with the aligner's version.</summary>
    public const string MethodVersion = "trigger-verifier 2";

    private readonly PocketSphinxAligner _aligner;
    private readonly IReadOnlyList<string> _competitors;

    /// <summary>Creates the verifier.</summary>
    /// <param name="aligner">The aligner.</param>
    /// <param name="wakePhrase">The wake phrase, e.g. "hey edge".</param>
    /// <param name="acceptAtOrAbove">Confidence at or above which a clip is a true accept.</param>
    /// <param name="missBelow">Confidence below which a clip is a false accept.</param>
    /// <param name="nearMisses">Extra near-miss phrases (e.g. "hay edgar"); generated ones are added unless <paramref name="generateNearMisses"/> is false.</param>
    /// <param name="generateNearMisses">Whether to add <see cref="NearMisses.Generate"/>'s phrases.</param>
    /// <param name="nearMissMarginPerFrame">Margin at or above which a winning near miss is a false accept rather than review.</param>
    public TriggerVerifier(PocketSphinxAligner aligner, string wakePhrase, double acceptAtOrAbove = 0.6, double missBelow = 0.3,
        IReadOnlyList<string>? nearMisses = null, bool generateNearMisses = true, double nearMissMarginPerFrame = DefaultNearMissMarginPerFrame)
    {
        ArgumentNullException.ThrowIfNull(aligner);
        if (PocketSphinxAligner.Normalise(wakePhrase).Count == 0)
        {
            throw new ArgumentException($"The wake phrase '{wakePhrase}' has no words.", nameof(wakePhrase));
        }

        if (!(missBelow <= acceptAtOrAbove))
        {
            throw new ArgumentException($"missBelow ({missBelow}) must not exceed acceptAtOrAbove ({acceptAtOrAbove}).", nameof(missBelow));
        }

        _aligner = aligner;
        WakePhrase = wakePhrase;
        AcceptAtOrAbove = acceptAtOrAbove;
        MissBelow = missBelow;
        NearMissMarginPerFrame = nearMissMarginPerFrame;
        string wake = string.Join(' ', PocketSphinxAligner.Normalise(wakePhrase));
        IEnumerable<string> all = (nearMisses ?? []).Concat(generateNearMisses ? NearMisses.Generate(wakePhrase, aligner.Lexicon) : []);
        _competitors = [.. all.Select(p => string.Join(' ', PocketSphinxAligner.Normalise(p))).Where(p => p.Length > 0 && p != wake).Distinct(StringComparer.Ordinal)];
        Tool = $"{aligner.ToolVersion}; {MethodVersion}";
    }

    /// <summary>Default of <see cref="NearMissMarginPerFrame"/> (see docs/labeling.md for how it was read off generated clips).</summary>
    public const double DefaultNearMissMarginPerFrame = 0.0;

    /// <summary>Confidence at or above which the clip is a true accept.</summary>
    public double AcceptAtOrAbove { get; }

    /// <summary>Confidence below which the clip is a false accept.</summary>
    public double MissBelow { get; }

    /// <summary>A near miss winning by at least this (acoustic score per frame) makes a false accept; a narrower win goes to review.</summary>
    public double NearMissMarginPerFrame { get; }

    /// <summary>The wake phrase.</summary>
    public string WakePhrase { get; }

    /// <summary>The near-miss phrases the wake phrase competes with.</summary>
    public IReadOnlyList<string> Competitors => _competitors;

    /// <summary>Aligner version and <see cref="MethodVersion"/>: the label source's tool.</summary>
    public string Tool { get; }

    /// <summary>Verifies one clip (a WAV file) by this class's fixed rules (<see cref="Decide"/>).</summary>
    public async Task<TriggerVerdict> VerifyAsync(string wavPath, CancellationToken cancellationToken = default)
    {
        (Verification.LabelEvidence evidence, WordSpan? phrase) = await GatherEvidenceAsync(wavPath, null, cancellationToken).ConfigureAwait(false);
        return Decide(evidence, phrase);
    }

    /// <summary>The fixed rules (see the class summary) applied to gathered evidence; the device and verifier scores are ignored.</summary>
    public TriggerVerdict Decide(Verification.LabelEvidence evidence, WordSpan? phrase)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        if (!evidence.Aligned)
        {
            return new TriggerVerdict(TriggerLabel.FalseAccept, 0, null, new LabelSource(LabelKinds.Aligner, Tool, 0), $"the wake phrase cannot be aligned: {evidence.AlignmentProblem}");
        }

        double confidence = evidence.AlignerConfidence;
        var source = new LabelSource(LabelKinds.Aligner, Tool, confidence);
        if (evidence.NearMissWinner is { } winner)
        {
            string margin = evidence.NearMissMarginPerFrame is { } m ? m.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) : "unbounded";
            return evidence.NearMissMarginPerFrame is not { } mm || mm >= NearMissMarginPerFrame
                ? new TriggerVerdict(TriggerLabel.FalseAccept, confidence, phrase, source, $"near miss '{winner}' fits better than the wake phrase (margin {margin} per frame)")
                : new TriggerVerdict(TriggerLabel.NeedsReview, confidence, phrase, source, $"near miss '{winner}' fits about as well as the wake phrase (margin {margin} < {NearMissMarginPerFrame:0.0} per frame)");
        }

        return confidence >= AcceptAtOrAbove
            ? new TriggerVerdict(TriggerLabel.TrueAccept, confidence, phrase, source, $"wake phrase aligned with confidence {confidence:0.00} >= {AcceptAtOrAbove:0.00} and beat {_competitors.Count} near misses")
            : confidence < MissBelow
                ? new TriggerVerdict(TriggerLabel.FalseAccept, confidence, phrase, source, $"wake phrase fits poorly: confidence {confidence:0.00} < {MissBelow:0.00}")
                : new TriggerVerdict(TriggerLabel.NeedsReview, confidence, phrase, source, $"confidence {confidence:0.00} between {MissBelow:0.00} and {AcceptAtOrAbove:0.00}");
    }

    /// <summary>
    /// Every aligner signal about one clip, without this class's fixed rules, for <see cref="Verification.CalibratedLabeler"/>:
    /// whether the wake phrase aligns and how well, and which near miss (if any) explains the clip better and by how much.
    /// </summary>
    /// <param name="wavPath">The clip.</param>
    /// <param name="deviceScore">The device model's score for the clip, when known.</param>
    /// <param name="cancellationToken">Cancels the aligner.</param>
    /// <returns>The evidence and the wake phrase's interval when aligned.</returns>
    public async Task<(Verification.LabelEvidence Evidence, WordSpan? Phrase)> GatherEvidenceAsync(string wavPath, double? deviceScore, CancellationToken cancellationToken = default)
    {
        AlignmentResult r = await _aligner.AlignAsync(wavPath, WakePhrase, cancellationToken).ConfigureAwait(false);
        string? winner = null;
        double? margin = null;
        if (_competitors.Count > 0)
        {
            CompetitionResult c = await _aligner.CompeteAsync(wavPath, [WakePhrase, .. _competitors], cancellationToken).ConfigureAwait(false);
            if (c.Decoded && c.WinnerIndex > 0)
            {
                (winner, margin) = (c.Winner, c.MarginPerFrame);
            }
        }
        WordSpan? phrase = r.Succeeded ? new WordSpan(WakePhrase, r.Words[0].StartMs, r.Words[^1].EndMs, r.Confidence) : null;
        return (new Verification.LabelEvidence(r.Succeeded, r.Succeeded ? r.Confidence : 0, winner, margin, deviceScore) { AlignmentProblem = r.Problem }, phrase);
    }

    /// <summary>The review item for a verdict that needs a person (proposed label: the likelier of the two).</summary>
    public static Review.ReviewItem ToReviewItem(string clipKey, string wavPath, TriggerVerdict verdict) => new(
        0, clipKey, Review.ReviewSubject.Trigger, wavPath, wavPath,
        verdict.Confidence >= 0.5 ? "true-accept" : "false-accept",
        verdict.Phrase?.StartMs ?? 0, verdict.Phrase?.EndMs ?? 0, verdict.Reason, verdict.Source);
}

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
/// Verifies device trigger clips by forcing the wake phrase onto the clip: a confident match labels
/// a true accept, a confident miss (no path, or confidence under <see cref="MissBelow"/>) a false
/// accept, anything between goes to review.
/// </summary>
public sealed class TriggerVerifier(PocketSphinxAligner aligner, string wakePhrase, double acceptAtOrAbove = 0.6, double missBelow = 0.3)
{
    /// <summary>Confidence at or above which the clip is a true accept.</summary>
    public double AcceptAtOrAbove { get; } = acceptAtOrAbove;

    /// <summary>Confidence below which the clip is a false accept.</summary>
    public double MissBelow { get; } = missBelow;

    /// <summary>The wake phrase.</summary>
    public string WakePhrase { get; } = wakePhrase;

    /// <summary>Verifies one clip (a WAV file).</summary>
    public async Task<TriggerVerdict> VerifyAsync(string wavPath, CancellationToken cancellationToken = default)
    {
        AlignmentResult r = await aligner.AlignAsync(wavPath, WakePhrase, cancellationToken).ConfigureAwait(false);
        if (!r.Succeeded)
        {
            return new TriggerVerdict(TriggerLabel.FalseAccept, 0, null, r.Source, $"the wake phrase cannot be aligned: {r.Problem}");
        }

        var phrase = new WordSpan(WakePhrase, r.Words[0].StartMs, r.Words[^1].EndMs, r.Confidence);
        return r.Confidence >= AcceptAtOrAbove
            ? new TriggerVerdict(TriggerLabel.TrueAccept, r.Confidence, phrase, r.Source, $"wake phrase aligned with confidence {r.Confidence:0.00} >= {AcceptAtOrAbove:0.00}")
            : r.Confidence < MissBelow
                ? new TriggerVerdict(TriggerLabel.FalseAccept, r.Confidence, phrase, r.Source, $"wake phrase fits poorly: confidence {r.Confidence:0.00} < {MissBelow:0.00}")
                : new TriggerVerdict(TriggerLabel.NeedsReview, r.Confidence, phrase, r.Source, $"confidence {r.Confidence:0.00} between {MissBelow:0.00} and {AcceptAtOrAbove:0.00}");
    }

    /// <summary>The review item for a verdict that needs a person (proposed label: the likelier of the two).</summary>
    public static Review.ReviewItem ToReviewItem(string clipKey, string wavPath, TriggerVerdict verdict) => new(
        0, clipKey, Review.ReviewSubject.Trigger, wavPath, wavPath,
        verdict.Confidence >= 0.5 ? "true-accept" : "false-accept",
        verdict.Phrase?.StartMs ?? 0, verdict.Phrase?.EndMs ?? 0, verdict.Reason, verdict.Source);
}

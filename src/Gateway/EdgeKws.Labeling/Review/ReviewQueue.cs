namespace EdgeKws.Labeling.Review;

/// <summary>Status of a review item.</summary>
public static class ReviewStatus
{
    /// <summary>Waiting for a person.</summary>
    public const string Pending = "pending";

    /// <summary>A person confirmed the proposed label.</summary>
    public const string Confirmed = "confirmed";

    /// <summary>A person replaced the label (or its times).</summary>
    public const string Corrected = "corrected";
}

/// <summary>What a reviewed or queued item is about.</summary>
public static class ReviewSubject
{
    /// <summary>A keyword clip cut from a longer recording.</summary>
    public const string KeywordClip = "keyword-clip";

    /// <summary>A device trigger clip: is it a true or a false accept?</summary>
    public const string Trigger = "trigger";
}

/// <summary>A label waiting for (or having had) a person's decision.</summary>
/// <param name="Id">Queue id (0 before enqueueing).</param>
/// <param name="ItemKey">Caller's stable key (clip id); enqueueing the same key again returns the existing item.</param>
/// <param name="Subject">One of <see cref="ReviewSubject"/>.</param>
/// <param name="SourceRecording">Recording the clip comes from.</param>
/// <param name="ClipPath">Where the clip's audio is stored for the reviewer to hear, if stored.</param>
/// <param name="ProposedLabel">The label the machine proposes (a word, or true-accept/false-accept).</param>
/// <param name="StartMs">Proposed start in the source recording.</param>
/// <param name="EndMs">Proposed end in the source recording.</param>
/// <param name="Reason">Why it needs a person.</param>
/// <param name="ProposedBy">The machine label's source (aligner and version, confidence).</param>
/// <param name="Status">One of <see cref="ReviewStatus"/>.</param>
/// <param name="FinalLabel">Label after review (null while pending).</param>
/// <param name="FinalStartMs">Start after review.</param>
/// <param name="FinalEndMs">End after review.</param>
/// <param name="ReviewedBy">Label source after review: kind "review", the reviewer.</param>
public sealed record ReviewItem(
    long Id,
    string ItemKey,
    string Subject,
    string SourceRecording,
    string? ClipPath,
    string ProposedLabel,
    double StartMs,
    double EndMs,
    string Reason,
    LabelSource ProposedBy,
    string Status = ReviewStatus.Pending,
    string? FinalLabel = null,
    double? FinalStartMs = null,
    double? FinalEndMs = null,
    LabelSource? ReviewedBy = null);

/// <summary>Agreement of second reviews with first reviews.</summary>
/// <param name="Compared">Items reviewed twice by different reviewers.</param>
/// <param name="Agreed">Items whose second label equals the first.</param>
public sealed record AgreementFigures(int Compared, int Agreed)
{
    /// <summary>Agreed / compared (NaN when nothing was compared).</summary>
    public double Rate => Compared == 0 ? double.NaN : (double)Agreed / Compared;
}

/// <summary>
/// The review queue: labels a machine could not settle wait here for a person, who confirms or
/// corrects them. Every decision is kept (who, when, what), so label quality can be audited by
/// re-reviewing a sample and measuring agreement. The gateway exposes it over HTTP.
/// </summary>
public interface IReviewQueue
{
    /// <summary>Adds an item (idempotent on <see cref="ReviewItem.ItemKey"/>); returns it with its id.</summary>
    ReviewItem Enqueue(ReviewItem item);

    /// <summary>Gets one item; false when the id is unknown.</summary>
    bool TryGet(long id, out ReviewItem item);

    /// <summary>Oldest pending items first.</summary>
    IReadOnlyList<ReviewItem> Pending(int max);

    /// <summary>Counts by status.</summary>
    IReadOnlyDictionary<string, int> CountByStatus();

    /// <summary>Confirms the proposed label.</summary>
    /// <exception cref="KeyNotFoundException">No such item.</exception>
    ReviewItem Confirm(long id, string reviewer);

    /// <summary>Replaces the label (and optionally its times).</summary>
    /// <exception cref="KeyNotFoundException">No such item.</exception>
    ReviewItem Correct(long id, string reviewer, string label, double? startMs = null, double? endMs = null);

    /// <summary>A seeded sample of reviewed items for a second reviewer (re-review), not reviewed by <paramref name="excludingReviewer"/>.</summary>
    IReadOnlyList<ReviewItem> SampleForReReview(int count, long seed, string excludingReviewer);

    /// <summary>Records a second, independent review; it does not change the item's label.</summary>
    void ReReview(long id, string reviewer, string label);

    /// <summary>Agreement between first reviews and re-reviews.</summary>
    AgreementFigures Agreement();
}

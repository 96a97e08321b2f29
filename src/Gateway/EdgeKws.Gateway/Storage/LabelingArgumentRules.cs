namespace EdgeKws.Gateway.Storage;

/// <summary>Argument rules of the labeling members (<see cref="LabelingStore"/>, <see cref="NearMissStore"/>): the limits, and the checks
/// and refusals that answer the same input with the same words on both databases.</summary>
internal static class LabelingArgumentRules
{
    public const int MaxReviewerLength = 64;
    public const int MaxToolLength = 200;
    public const int MaxReasonLength = 1000;

    public static string? RefuseReviewer(string? reviewer) =>
        string.IsNullOrWhiteSpace(reviewer) || reviewer.Length > MaxReviewerLength || reviewer.Any(char.IsControl)
            ? $"reviewer must be 1..{MaxReviewerLength} characters without control characters"
            : null;

    public static string? RefuseDecision(DetectionLabelKind label) =>
        label is DetectionLabelKind.TrueAccept or DetectionLabelKind.FalseAccept ? null : $"label must be TrueAccept or FalseAccept, not {label}";

    public static string? RefuseProvenance(LabelProvenance p) =>
        p is null ? "provenance is required"
        : p.Kind is not (LabelProvenanceKinds.Aligner or LabelProvenanceKinds.Review) ? $"provenance kind '{p.Kind}' is not aligner or review"
        : string.IsNullOrWhiteSpace(p.Tool) || p.Tool.Length > MaxToolLength ? $"provenance tool must be 1..{MaxToolLength} characters"
        : p.Confidence is { } c && !(c >= 0 && c <= 1) ? $"confidence {c} is not in 0..1"
        : null;

    /// <summary>Why a near-miss decision was refused: it is not waiting for review (<paramref name="current"/>: its label, or null when unknown).</summary>
    public static string NearMissNotQueued(string deviceId, long sequence, string? current) =>
        current is null
            ? $"near miss ({deviceId}, {sequence}) is not stored"
            : $"near miss ({deviceId}, {sequence}) is not waiting for review (its label is {current})";

    public static string Cut(string reason) => reason.Length <= MaxReasonLength ? reason : reason[..MaxReasonLength];


}

using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The argument rules of the monitoring members (<see cref="MonitoringStore"/>) and the labels (<see cref="DetectionLabelStore"/>, whose
/// label rules <see cref="LabelingStore"/> applies too): the limits, and the checks that refuse the same input with the same words on both
/// databases.
/// </summary>
internal static class MonitoringArgumentRules
{
    /// <summary>Longest label source text.</summary>
    public const int MaxLabelSourceLength = 128;

    /// <summary>Longest cohort name.</summary>
    public const int MaxCohortLength = 64;

    /// <summary>Throws naming the rule when <paramref name="cohort"/> is not null and not a valid cohort name.</summary>
    public static void ValidateCohort(string? cohort)
    {
        if (cohort is not null && (cohort.Length == 0 || cohort.Length > MaxCohortLength || cohort.Any(char.IsControl)))
        {
            throw new ArgumentException($"cohort must be 1..{MaxCohortLength} characters without control characters", nameof(cohort));
        }
    }

    /// <summary>Why <paramref name="label"/> cannot be stored (before looking for its detection), or null.</summary>
    public static string? RefuseLabel(DetectionLabel label)
    {
        if (!Enum.IsDefined(label.Label))
        {
            return $"label {(int)label.Label} is not TrueAccept, FalseAccept or Unknown";
        }
        if (string.IsNullOrWhiteSpace(label.Source) || label.Source.Length > MaxLabelSourceLength)
        {
            return $"source must be 1..{MaxLabelSourceLength} characters";
        }
        return null;
    }

    /// <summary>The refusal for a label whose detection is not stored.</summary>
    public static string NoDetection(DetectionLabel label) => $"no detection ({label.DeviceId}, {label.Sequence}) is stored";

    /// <summary>Throws naming the problem when the model version or the baseline sketch is invalid.</summary>
    public static void ValidateBaseline(string modelVersion, DriftSketch baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        if (string.IsNullOrEmpty(modelVersion) || modelVersion.Length > WireLimits.MaxModelVersionLength)
        {
            throw new ArgumentException($"model version must be 1..{WireLimits.MaxModelVersionLength} characters", nameof(modelVersion));
        }
        if (!baseline.TryValidate(out string reason))
        {
            throw new ArgumentException("baseline sketch: " + reason, nameof(baseline));
        }
    }

    /// <summary>Throws when the evaluation's scores and labels differ in length.</summary>
    public static void ValidateEvaluation(EvaluationRecord evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        if (evaluation.Scores.Length != evaluation.Positives.Length)
        {
            throw new ArgumentException($"{evaluation.Scores.Length} scores but {evaluation.Positives.Length} labels", nameof(evaluation));
        }
    }
}

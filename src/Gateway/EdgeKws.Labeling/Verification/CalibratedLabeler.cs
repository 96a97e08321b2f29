using System.Globalization;
using EdgeKws.Labeling.Extraction;

namespace EdgeKws.Labeling.Verification;

/// <summary>A calibrated label decision.</summary>
/// <param name="Label">True accept, false accept, or review.</param>
/// <param name="ProbabilityTrueAccept">The calibrated probability that the clip holds the wake phrase.</param>
/// <param name="Evidence">Every signal behind it.</param>
/// <param name="Reason">Why, for the provenance and the review page.</param>
public sealed record LabelDecision(TriggerLabel Label, double ProbabilityTrueAccept, LabelEvidence Evidence, string Reason);

/// <summary>
/// Decides a label from evidence only where the calibrated probability meets a precision target: a true accept when
/// P(wake phrase) &gt;= <see cref="TrueAcceptPrecision"/>, a false accept when 1 - P &gt;= <see cref="FalseAcceptPrecision"/>, review
/// otherwise. With a calibrated P, the decided labels of each kind are then right at least that often on clips like those
/// the calibration was fitted on; raising a target sends more clips to a person, never fewer.
/// </summary>
public sealed class CalibratedLabeler
{
    /// <summary>Default precision target of each decided label kind.</summary>
    public const double DefaultPrecision = 0.98;

    /// <summary>Creates the labeler.</summary>
    /// <param name="calibration">The fitted calibration.</param>
    /// <param name="trueAcceptPrecision">Precision target of automatic true accepts, in (0.5, 1).</param>
    /// <param name="falseAcceptPrecision">Precision target of automatic false accepts, in (0.5, 1).</param>
    public CalibratedLabeler(LabelCalibration calibration, double trueAcceptPrecision = DefaultPrecision, double falseAcceptPrecision = DefaultPrecision)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        Check(trueAcceptPrecision, nameof(trueAcceptPrecision));
        Check(falseAcceptPrecision, nameof(falseAcceptPrecision));
        Calibration = calibration;
        TrueAcceptPrecision = trueAcceptPrecision;
        FalseAcceptPrecision = falseAcceptPrecision;
    }

    /// <summary>The calibration.</summary>
    public LabelCalibration Calibration { get; }

    /// <summary>Precision target of automatic true accepts.</summary>
    public double TrueAcceptPrecision { get; }

    /// <summary>Precision target of automatic false accepts.</summary>
    public double FalseAcceptPrecision { get; }

    /// <summary>The decision for one clip's evidence.</summary>
    public LabelDecision Decide(LabelEvidence evidence)
    {
        double p = Calibration.ProbabilityTrueAccept(evidence);
        string why = string.Create(CultureInfo.InvariantCulture, $"P(wake phrase) {p:0.000} from {evidence.Describe()}");
        return p >= TrueAcceptPrecision
            ? new LabelDecision(TriggerLabel.TrueAccept, p, evidence, string.Create(CultureInfo.InvariantCulture, $"{why}: >= {TrueAcceptPrecision:0.###}"))
            : 1 - p >= FalseAcceptPrecision
                ? new LabelDecision(TriggerLabel.FalseAccept, p, evidence, string.Create(CultureInfo.InvariantCulture, $"{why}: <= {1 - FalseAcceptPrecision:0.###}"))
                : new LabelDecision(TriggerLabel.NeedsReview, p, evidence, string.Create(CultureInfo.InvariantCulture,
                    $"{why}: neither >= {TrueAcceptPrecision:0.###} (true accept) nor <= {1 - FalseAcceptPrecision:0.###} (false accept)"));
    }

    private static void Check(double target, string name)
    {
        if (!(target > 0.5 && target < 1))
        {
            throw new ArgumentOutOfRangeException(name, target, "a precision target must be in (0.5, 1)");
        }
    }
}

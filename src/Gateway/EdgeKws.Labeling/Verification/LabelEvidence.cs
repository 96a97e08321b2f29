using System.Globalization;

namespace EdgeKws.Labeling.Verification;

/// <summary>
/// Every signal the labeler has about one trigger clip. Each is kept in the label's provenance, whatever the decision.
/// </summary>
/// <param name="Aligned">Whether the wake phrase could be forced onto the clip at all.</param>
/// <param name="AlignerConfidence">The forced alignment's confidence against a free phone loop (0..1; 0 when not aligned).</param>
/// <param name="NearMissWinner">The near miss that explained the clip better than the wake phrase, or null when the wake phrase won.</param>
/// <param name="NearMissMarginPerFrame">How much better that near miss fit (acoustic score per 10 ms frame); null when the wake
/// phrase won or had no path at all.</param>
/// <param name="DeviceScore">The device model's smoothed keyword posterior for the clip (0..1), or null when unknown.</param>
/// <param name="VerifierScore">A gateway verifier model's keyword probability (0..1), or null when none ran.</param>
public sealed record LabelEvidence(bool Aligned, double AlignerConfidence, string? NearMissWinner, double? NearMissMarginPerFrame,
    double? DeviceScore, double? VerifierScore = null)
{
    /// <summary>Why the wake phrase could not be aligned (the aligner's words), when it could not.</summary>
    public string? AlignmentProblem { get; init; }

    /// <summary>Cap on |margin| and |logit| features: one extreme signal must not saturate the whole decision.</summary>
    public const double FeatureCap = 8;

    /// <summary>Names of <see cref="Features"/>' entries, in order (the calibration file stores them to refuse a mismatch).</summary>
    public static IReadOnlyList<string> FeatureNames { get; } =
        ["aligned", "alignerConfidence", "nearMissWins", "nearMissMargin", "deviceLogit", "verifierLogit"];

    /// <summary>The evidence as numbers for <see cref="LabelCalibration"/>. A missing score is logit 0 (no evidence either way).</summary>
    public double[] Features() =>
    [
        Aligned ? 1 : 0,
        Aligned ? AlignerConfidence : 0,
        NearMissWinner is null ? 0 : 1,
        NearMissWinner is null ? 0 : Math.Min(FeatureCap, NearMissMarginPerFrame ?? FeatureCap),
        Logit(DeviceScore),
        Logit(VerifierScore),
    ];

    /// <summary>One line for people: what each signal said.</summary>
    public string Describe()
    {
        var parts = new List<string>
        {
            Aligned ? string.Create(CultureInfo.InvariantCulture, $"aligner {AlignerConfidence:0.00}") : "aligner: no path",
            NearMissWinner is null ? "no near miss fits better"
                : string.Create(CultureInfo.InvariantCulture, $"near miss '{NearMissWinner}' fits better by {(NearMissMarginPerFrame is { } m ? m.ToString("0.0", CultureInfo.InvariantCulture) : "an unbounded margin")} per frame"),
        };
        if (DeviceScore is { } d)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"device {d:0.000}"));
        }
        if (VerifierScore is { } v)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"verifier {v:0.000}"));
        }
        return string.Join(", ", parts);
    }

    /// <summary>The signals in a few dozen characters, for a label's provenance: "al 0.71 nm 'hey hedge' 1.2 dev 0.970 ver 0.990".</summary>
    public string Compact() => string.Join(' ', new[]
    {
        Aligned ? string.Create(CultureInfo.InvariantCulture, $"al {AlignerConfidence:0.00}") : "al none",
        NearMissWinner is null ? "nm none" : string.Create(CultureInfo.InvariantCulture, $"nm '{NearMissWinner}' {(NearMissMarginPerFrame is { } m ? m.ToString("0.0", CultureInfo.InvariantCulture) : "inf")}"),
        DeviceScore is { } d ? string.Create(CultureInfo.InvariantCulture, $"dev {d:0.000}") : null,
        VerifierScore is { } v ? string.Create(CultureInfo.InvariantCulture, $"ver {v:0.000}") : null,
    }.Where(x => x is not null));

    private static double Logit(double? p)
    {
        if (p is not { } x || double.IsNaN(x))
        {
            return 0;
        }
        double q = Math.Clamp(x, 1e-6, 1 - 1e-6);
        return Math.Clamp(Math.Log(q / (1 - q)), -FeatureCap, FeatureCap);
    }
}

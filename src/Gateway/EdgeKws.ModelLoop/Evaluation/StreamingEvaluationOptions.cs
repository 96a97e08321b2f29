using EdgeKws.Detection;
using EdgeKws.Shared.Features;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>Options of one streaming evaluation.</summary>
public sealed record StreamingEvaluationOptions
{
    /// <summary>
    /// A detection accepts a keyword spoken over [start, end] when it fires in [start, end + ToleranceMs].
    /// The detector reports the end of the window that fired; with a 30-frame posterior average and a
    /// 10-frame stride it fires up to ~0.5 s after the keyword ends, so 1 s leaves margin without
    /// letting a detection reach the next keyword (keywords are 2-6 s apart in the corpus streams).
    /// </summary>
    public double ToleranceMs { get; init; } = 1000;

    /// <summary>Threshold the model is evaluated as deployed at; null keeps the manifest's.</summary>
    public float? Threshold { get; init; }

    /// <summary>Thresholds added to the sweep grid (the deployed one is always in it).</summary>
    public IReadOnlyList<float> ExtraThresholds { get; init; } = [];

    /// <summary>Feature configuration of the front end that computes the MFCCs (the device's).</summary>
    public MfccConfig FeatureConfig { get; init; } = MfccConfig.Default;

    /// <summary>Free text naming the evaluation set (corpus seed, generator version), copied to the report.</summary>
    public string? EvaluationSet { get; init; }

    /// <summary>
    /// Largest model file accepted: the device's 64 KB budget by default, so a device model over it is refused as the device
    /// would refuse it. A gateway-side model (the labeler's verifier, an ensemble under study) is scored with a larger limit.
    /// </summary>
    public long MaxModelBytes { get; init; } = KeywordModel.DefaultMaxModelBytes;
}

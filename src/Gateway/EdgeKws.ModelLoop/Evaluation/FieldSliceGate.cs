using System.Globalization;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>How one model did on the held-out field slice, counted per clip from the device detector's events.</summary>
public sealed class FieldSliceResult
{
    public required string ModelVersion { get; init; }
    public required string ModelSha256 { get; init; }
    public required float Threshold { get; init; }
    /// <summary>Held-out clips labelled as the keyword.</summary>
    public required int KeywordClips { get; init; }
    /// <summary>Keyword clips on which the detector never fired on the keyword.</summary>
    public required int MissedKeywordClips { get; init; }
    /// <summary>Held-out clips labelled background (false wakes, near misses that were not the keyword).</summary>
    public required int BackgroundClips { get; init; }
    /// <summary>Background clips on which the detector fired at least once.</summary>
    public required int FiredBackgroundClips { get; init; }
    /// <summary>Held-out clips without audio, not evaluated (the same for both models).</summary>
    public int FeatureOnlyClips { get; init; }
    /// <summary>The clips missed (keyword) or fired on (background), for the report.</summary>
    public required IReadOnlyList<string> Missed { get; init; }
    public required IReadOnlyList<string> FiredOn { get; init; }
}

/// <summary>
/// The held-out field slice's rule of a fine-tune's promotion, and the evaluation behind it: the device's front end and detector
/// (<see cref="StreamingEvaluator"/> over each clip's WAV) for the production model and the candidate on the same clips.
/// </summary>
/// <remarks>
/// Rule: the candidate misses fewer keyword clips and fires on no more background clips, or fires on fewer background clips and
/// misses no more keyword clips. Equal on both is not better: a fine-tune that changes nothing the fleet heard is not worth a
/// rollout. The slice sees only what devices uploaded (triggers and near misses, each device's latest slice): a new false accept
/// on audio no device uploaded is invisible to it; the base test set's FA/hour rule of <see cref="PromotionGate"/> covers that.
/// </remarks>
public static class FieldSliceGate
{
    /// <summary>Name of the slice rule in the gate's checks.</summary>
    public const string CheckName = "held-out field slice: fewer misses at no more false fires, or fewer false fires at no more misses";

    /// <summary>Runs the device detector of <paramref name="manifestPath"/> over every clip of <paramref name="slice"/>.</summary>
    public static FieldSliceResult Evaluate(string manifestPath, FieldSlice slice, StreamingEvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(slice);
        IReadOnlyList<EvaluationStream> streams = slice.ToStreams();
        StreamingEvaluation e = StreamingEvaluator.Evaluate(manifestPath, streams, options);
        var missed = new List<string>();
        var fired = new List<string>();
        int keywords = 0, background = 0;
        foreach (StreamReport s in e.Report.Streams)
        {
            if (s.Kind == "positive")
            {
                keywords++;
                if (s.DetectedKeywords < s.Keywords) missed.Add(s.Name);
            }
            else
            {
                background++;
                if (s.Detections > 0) fired.Add(s.Name);
            }
        }
        return new FieldSliceResult
        {
            ModelVersion = e.Report.ModelVersion,
            ModelSha256 = e.Report.ModelSha256,
            Threshold = e.Report.Threshold,
            KeywordClips = keywords,
            MissedKeywordClips = missed.Count,
            BackgroundClips = background,
            FiredBackgroundClips = fired.Count,
            Missed = missed,
            FiredOn = fired,
            FeatureOnlyClips = slice.FeatureOnlyClips,
        };
    }

    /// <summary>The slice rule (see the class remarks) for two results on the same slice.</summary>
    public static GateCheck Decide(FieldSliceResult production, FieldSliceResult candidate)
    {
        ArgumentNullException.ThrowIfNull(production);
        ArgumentNullException.ThrowIfNull(candidate);
        if (production.KeywordClips != candidate.KeywordClips || production.BackgroundClips != candidate.BackgroundClips)
            throw new ArgumentException("the two results are not of the same slice");
        int pm = production.MissedKeywordClips, cm = candidate.MissedKeywordClips, pf = production.FiredBackgroundClips, cf = candidate.FiredBackgroundClips;
        bool better = (cm < pm && cf <= pf) || (cf < pf && cm <= pm);
        string numbers = F($"{production.KeywordClips} keyword clips: missed {pm} (production {production.ModelVersion}) -> {cm} (candidate); {production.BackgroundClips} background clips: fired on {pf} -> {cf}");
        string verdict = better ? "better" : cm > pm || cf > pf ? "worse" : "not better (no fewer misses or false fires)";
        string unseen = production.FeatureOnlyClips > 0 ? F($" ({production.FeatureOnlyClips} feature-only held-out clips not replayed)") : "";
        return new GateCheck { Name = CheckName, Passed = better, Detail = $"{verdict}: {numbers}{unseen}" };
    }

    /// <summary>
    /// The base gate's report with the fine-tune's extra checks (field slice, leakage) appended: promote only when every check
    /// passes; a refusal's summary names each failed check.
    /// </summary>
    public static GateReport Combine(GateReport baseGate, IReadOnlyList<GateCheck> extra)
    {
        ArgumentNullException.ThrowIfNull(baseGate);
        ArgumentNullException.ThrowIfNull(extra);
        bool promote = baseGate.Promote && extra.All(c => c.Passed);
        var reasons = new List<string>();
        if (!baseGate.Promote) reasons.Add("base test set: " + baseGate.Summary);
        reasons.AddRange(extra.Where(c => !c.Passed).Select(c => c.Name + " (" + c.Detail + ")"));
        string summary = promote
            ? baseGate.Summary + "; " + string.Join("; ", extra.Select(c => c.Name + ": " + c.Detail))
            : "REFUSE: " + string.Join("; ", reasons);
        return new GateReport
        {
            FormatVersion = baseGate.FormatVersion,
            Promote = promote,
            Summary = summary,
            Current = baseGate.Current,
            Candidate = baseGate.Candidate,
            NegativeHours = baseGate.NegativeHours,
            Keywords = baseGate.Keywords,
            FaPerHourMargin = baseGate.FaPerHourMargin,
            FalseRejectRateMargin = baseGate.FalseRejectRateMargin,
            Checks = [.. baseGate.Checks, .. extra],
            SuggestedCandidateThreshold = baseGate.SuggestedCandidateThreshold,
            Breakdown = baseGate.Breakdown,
        };
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Text.Json.Nodes;
using EdgeKws.Detection;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>What <see cref="OperatingPointMatch.Choose(string, string, IReadOnlyList{EvaluationStream}, string?)"/> found.</summary>
/// <param name="Threshold">The candidate's threshold: at least the parent's, raised until it false-accepts no more than the parent.</param>
/// <param name="ParentThreshold">The reference model's deployed threshold ("parent": the FineTune job passes production, which
/// is the parent unless the request names another; the gate compares the candidate with production).</param>
/// <param name="NegativeHours">Negative audio of the operating-point streams.</param>
/// <param name="ParentFalseAccepts">The parent's false accepts there at its threshold.</param>
/// <param name="CandidateFalseAcceptsAtParentThreshold">The candidate's at the parent's threshold.</param>
/// <param name="CandidateFalseAccepts">The candidate's at <paramref name="Threshold"/>.</param>
/// <param name="Keywords">Keywords in the operating-point streams (for the report only: they never move the threshold).</param>
/// <param name="ParentMissed">Keywords the parent misses at its threshold.</param>
/// <param name="CandidateMissed">Keywords the candidate misses at <paramref name="Threshold"/>.</param>
/// <param name="EvaluationSet">The streams, as their file describes them.</param>
/// <remarks>When no threshold up to <see cref="OperatingPointMatch.MaxThreshold"/> holds, <see cref="Threshold"/> is that cap and
/// <see cref="Matched"/> is false: the candidate still false-accepts more than the parent there (the gate then judges it).</remarks>
public sealed record OperatingPoint(float Threshold, float ParentThreshold, double NegativeHours, long ParentFalseAccepts, long CandidateFalseAcceptsAtParentThreshold,
    long CandidateFalseAccepts, long Keywords, long ParentMissed, long CandidateMissed, string? EvaluationSet)
{
    /// <summary>Whether the candidate false-accepts no more than the parent at <see cref="Threshold"/>.</summary>
    public bool Matched => CandidateFalseAccepts <= ParentFalseAccepts;

    /// <summary>One line for a job step.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"threshold {Threshold:0.####} (parent {ParentThreshold:0.####}){(Matched ? "" : ", NOT matched: no threshold up to the cap false-accepts no more than the parent")}: false accepts in {NegativeHours:0.###} h of held-out negatives {ParentFalseAccepts} (parent) / " +
        $"{CandidateFalseAcceptsAtParentThreshold} (candidate at the parent's threshold) / {CandidateFalseAccepts} (candidate at its own); " +
        $"keywords missed {ParentMissed} / {CandidateMissed} of {Keywords}; on {EvaluationSet ?? "unnamed streams"}");
}

/// <summary>
/// The operating point of a fine-tuned candidate: the lowest threshold, not below the parent's, at which the device detector over
/// held-out streams false-accepts no more often than the parent does at its own threshold (docs/model-loop.md "Fine-tuning from
/// production").
/// </summary>
/// <remarks>
/// Why: a fine-tune moves every posterior, not only those of the field audio it learnt (the field data is keyword-heavy, so the
/// keyword posterior rises everywhere), and the parent's threshold then sits at another false-accept rate: a fine-tune of
/// hey-edge 1.3.0 kept at 0.9525 false-accepted 4 times in an hour of other voices where 1.3.0 did not at all, while its DET curve
/// was better than 1.3.0's at every false-accept count. Matching the parent's false accepts on streams neither model trained on and
/// the gate never reads puts the candidate where the parent was on the false-accept axis, so the gate compares misses at (about)
/// equal false accepts.
///
/// The threshold only ever rises: the parent usually has no false accept in the streams at all, and lowering the deployed
/// threshold on that evidence would be a guess; a lower threshold is a decision for data that resolves it (a full recipe's
/// validation streams). The candidate's curve is replayed on a 1e-4 grid from the parent's threshold up (the detector's own
/// firing rules over its recorded smoothed scores, as <see cref="StreamingEvaluator"/> draws every DET curve), and the chosen
/// threshold is one from which every higher grid point also holds (false accepts are not strictly monotone in the threshold
/// because of the refractory period).
/// </remarks>
public static class OperatingPointMatch
{
    /// <summary>Resolution of the search above the parent's threshold.</summary>
    public const float Step = 1e-4f;

    /// <summary>The highest threshold it chooses: above it a detector would hardly ever fire.</summary>
    public const float MaxThreshold = 0.9999f;

    /// <summary>Evaluates both models on <paramref name="streams"/> and chooses the candidate's threshold.</summary>
    public static OperatingPoint Choose(string parentManifestPath, string candidateManifestPath, IReadOnlyList<EvaluationStream> streams, string? description)
    {
        ArgumentNullException.ThrowIfNull(streams);
        StreamingEvaluation parent = StreamingEvaluator.Evaluate(parentManifestPath, streams, new StreamingEvaluationOptions { EvaluationSet = description });
        float floor = parent.Report.Threshold;
        float[] grid = Grid(floor);
        StreamingEvaluation candidate = StreamingEvaluator.Evaluate(candidateManifestPath, streams, new StreamingEvaluationOptions
        {
            Threshold = floor,
            ExtraThresholds = grid,
            EvaluationSet = description,
        });
        // Only the search grid's points: the evaluator's own sweep points (1 - 10^(-k/4), ...) would put the threshold off it.
        var onGrid = new HashSet<float>(grid);
        StreamingDetPoint chosen = Choose([.. candidate.Curve.Where(p => onGrid.Contains(p.Threshold))], floor, parent.Report.FalseAccepts);
        return new OperatingPoint(chosen.Threshold, floor, parent.Report.NegativeHours, parent.Report.FalseAccepts, candidate.Report.FalseAccepts,
            chosen.FalseAccepts, parent.Report.Keywords, parent.Report.MissedKeywords, chosen.MissedKeywords, description);
    }

    /// <summary>
    /// The lowest point of <paramref name="curve"/> at or above <paramref name="floor"/> (and at most <see cref="MaxThreshold"/>)
    /// from which every higher point has at most <paramref name="allowedFalseAccepts"/>; the highest such point when none holds.
    /// </summary>
    public static StreamingDetPoint Choose(IReadOnlyList<StreamingDetPoint> curve, float floor, long allowedFalseAccepts)
    {
        ArgumentNullException.ThrowIfNull(curve);
        ArgumentOutOfRangeException.ThrowIfNegative(allowedFalseAccepts);
        StreamingDetPoint[] candidates = [.. curve.Where(p => p.Threshold >= floor && p.Threshold <= MaxThreshold).OrderBy(p => p.Threshold)];
        if (candidates.Length == 0) throw new ArgumentException($"the curve has no point in [{floor}, {MaxThreshold}]", nameof(curve));
        int chosen = candidates.Length - 1;
        for (int i = candidates.Length - 1; i >= 0 && candidates[i].FalseAccepts <= allowedFalseAccepts; i--)
        {
            chosen = i;
        }
        return candidates[chosen];
    }

    /// <summary>The search grid: every <see cref="Step"/> from <paramref name="floor"/> to <see cref="MaxThreshold"/>.</summary>
    public static float[] Grid(float floor)
    {
        int steps = (int)Math.Floor((MaxThreshold - floor) / Step);
        var grid = new List<float>(Math.Max(steps + 2, 1)) { floor };
        for (int i = 1; i <= steps; i++)
        {
            float t = (float)Math.Round(floor + (i * (double)Step), 4);
            if (t > floor && t <= MaxThreshold) grid.Add(t);
        }
        if (grid[^1] < MaxThreshold) grid.Add(MaxThreshold);
        return [.. grid];
    }

    /// <summary>Writes <paramref name="threshold"/> into a device manifest (the threshold lives only there; the model bytes stay).</summary>
    public static void SetThreshold(string manifestPath, float threshold)
    {
        JsonObject json = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        json["threshold"] = threshold;
        File.WriteAllText(manifestPath, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        if (!ModelManifest.TryParse(File.ReadAllBytes(manifestPath), out _, out string reason))
            throw new InvalidDataException($"{manifestPath}: the manifest with threshold {threshold} does not parse: {reason}");
    }
}

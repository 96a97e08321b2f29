namespace EdgeKws.Shared.Metrics;

/// <summary>One scored trial of an offline evaluation: the detector's score and whether the keyword was really there.</summary>
/// <param name="Score">Detector score.</param>
/// <param name="IsPositive">True when the keyword was spoken (a miss at this score is a false reject); false for a negative
/// (an accept is a false accept).</param>
public readonly record struct ScoredTrial(float Score, bool IsPositive);

/// <summary>One operating point of a DET curve: accept when score &gt;= <see cref="Threshold"/>.</summary>
/// <param name="Threshold">Decision threshold.</param>
/// <param name="FalseAcceptRate">Negatives accepted / negatives (NaN without negatives).</param>
/// <param name="FalseRejectRate">Positives rejected / positives (NaN without positives).</param>
/// <param name="FalseAccepts">Negatives accepted.</param>
/// <param name="FalseRejects">Positives rejected.</param>
/// <param name="FaPerHour">False accepts per hour of negative audio, when its duration was given; else NaN.</param>
public readonly record struct DetPoint(double Threshold, double FalseAcceptRate, double FalseRejectRate, long FalseAccepts, long FalseRejects, double FaPerHour);

/// <summary>
/// Detection-error-tradeoff curve from (score, label) trials: the full set of operating points, one per distinct
/// score plus one above the highest (accept nothing). For offline evaluation (bench tool, gateway evaluations);
/// allocates its result and a sorted copy of the trials.
/// </summary>
public static class DetCurve
{
    /// <summary>
    /// Operating points in ascending threshold order (false accepts fall, false rejects rise along the array).
    /// <paramref name="negativeHours"/> (hours of keyword-free audio the negatives came from) adds FA/hour; pass 0 when unknown.
    /// False when there are no trials, a score is not finite, or the duration is negative.
    /// </summary>
    public static bool TryCompute(ReadOnlySpan<ScoredTrial> trials, double negativeHours, out DetPoint[] points, out string reason)
    {
        points = [];
        if (trials.IsEmpty)
        {
            reason = "no trials";
            return false;
        }
        if (!double.IsFinite(negativeHours) || negativeHours < 0)
        {
            reason = $"negativeHours must be finite and >= 0, got {negativeHours}";
            return false;
        }
        var sorted = trials.ToArray();
        long positives = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            if (!float.IsFinite(sorted[i].Score))
            {
                reason = $"trial {i} has a non-finite score {sorted[i].Score}";
                return false;
            }
            if (sorted[i].IsPositive)
            {
                positives++;
            }
        }
        long negatives = sorted.Length - positives;
        Array.Sort(sorted, static (a, b) => a.Score.CompareTo(b.Score));

        var result = new List<DetPoint>();
        // Walking thresholds upwards: everything below the threshold is rejected.
        long rejectedPositives = 0, rejectedNegatives = 0;
        int k = 0;
        while (k <= sorted.Length)
        {
            double threshold = k < sorted.Length ? sorted[k].Score : Math.BitIncrement((double)sorted[^1].Score);
            long fa = negatives - rejectedNegatives;
            result.Add(new DetPoint(
                threshold,
                negatives > 0 ? (double)fa / negatives : double.NaN,
                positives > 0 ? (double)rejectedPositives / positives : double.NaN,
                fa,
                rejectedPositives,
                negativeHours > 0 ? fa / negativeHours : double.NaN));
            if (k == sorted.Length)
            {
                break;
            }
            float score = sorted[k].Score;
            while (k < sorted.Length && sorted[k].Score == score)
            {
                if (sorted[k].IsPositive)
                {
                    rejectedPositives++;
                }
                else
                {
                    rejectedNegatives++;
                }
                k++;
            }
        }
        points = [.. result];
        reason = string.Empty;
        return true;
    }
}

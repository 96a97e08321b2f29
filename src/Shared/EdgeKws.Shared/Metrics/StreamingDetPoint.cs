namespace EdgeKws.Shared.Metrics;

/// <summary>
/// One operating point of a streaming keyword detector at one threshold: events counted over hours
/// of keyword-free audio and over known keyword occurrences (not per-window trials).
/// </summary>
/// <param name="Threshold">Smoothed-posterior threshold the detector fired at (score &gt;= threshold).</param>
/// <param name="FalseAccepts">Detections that matched no keyword occurrence.</param>
/// <param name="NegativeHours">Hours of audio in which a detection counts as false (the FA/hour denominator).</param>
/// <param name="MissedKeywords">Keyword occurrences with no detection.</param>
/// <param name="Keywords">Keyword occurrences evaluated.</param>
public readonly record struct StreamingDetPoint(float Threshold, long FalseAccepts, double NegativeHours, long MissedKeywords, long Keywords)
{
    /// <summary>False accepts per hour of negative audio; NaN when no negative audio was evaluated.</summary>
    public double FaPerHour => NegativeHours > 0 ? FalseAccepts / NegativeHours : double.NaN;

    /// <summary>Missed / evaluated keyword occurrences; NaN when there were none.</summary>
    public double FalseRejectRate => Keywords > 0 ? MissedKeywords / (double)Keywords : double.NaN;
}

/// <summary>
/// Reading a DET curve at an operating point of another curve: the FA/hour a detector reaches at a
/// given FRR, or the FRR at a given FA/hour. Pure arithmetic over a caller's array; allocates one
/// envelope array per call (offline evaluation, not the device's hot path).
/// </summary>
/// <remarks>
/// The curve is reduced to its lower-left envelope (for each FRR the lowest FA/hour any threshold
/// reaches with at most that FRR), and read by linear interpolation between envelope points: mixing
/// two thresholds at random reaches every point on the segment between them, so the interpolated
/// value is achievable, not optimistic. A target better than every point of the curve (an FRR below
/// the curve's lowest) cannot be reached: the Try methods return false.
/// </remarks>
public static class DetInterpolation
{
    /// <summary>Lowest FA/hour the curve reaches at <paramref name="falseRejectRate"/> (interpolated).</summary>
    public static bool TryFaPerHourAtFrr(ReadOnlySpan<StreamingDetPoint> curve, double falseRejectRate, out double faPerHour)
    {
        var xy = new (double X, double Y)[curve.Length];
        for (int i = 0; i < curve.Length; i++) xy[i] = (curve[i].FalseRejectRate, curve[i].FaPerHour);
        return TryReadEnvelope(xy, falseRejectRate, out faPerHour);
    }

    /// <summary>Lowest FRR the curve reaches at <paramref name="faPerHour"/> (interpolated).</summary>
    public static bool TryFrrAtFaPerHour(ReadOnlySpan<StreamingDetPoint> curve, double faPerHour, out double falseRejectRate)
    {
        var xy = new (double X, double Y)[curve.Length];
        for (int i = 0; i < curve.Length; i++) xy[i] = (curve[i].FaPerHour, curve[i].FalseRejectRate);
        return TryReadEnvelope(xy, faPerHour, out falseRejectRate);
    }

    /// <summary>
    /// Lower envelope y(x) = min { y_i : x_i &lt;= x } of a set of error pairs, linearly interpolated
    /// between its corners; false when x is below every x_i or a value is not finite.
    /// </summary>
    private static bool TryReadEnvelope((double X, double Y)[] points, double x, out double y)
    {
        y = double.NaN;
        if (points.Length == 0 || !double.IsFinite(x)) return false;
        foreach (var p in points)
        {
            if (!double.IsFinite(p.X) || !double.IsFinite(p.Y)) return false;
        }
        Array.Sort(points, static (a, b) => a.X != b.X ? a.X.CompareTo(b.X) : a.Y.CompareTo(b.Y));
        // Corners: x strictly increasing, y strictly decreasing.
        var corners = new List<(double X, double Y)>(points.Length);
        foreach (var p in points)
        {
            if (corners.Count == 0 || p.Y < corners[^1].Y)
            {
                if (corners.Count > 0 && corners[^1].X == p.X) corners[^1] = p;
                else corners.Add(p);
            }
        }
        if (x < corners[0].X) return false;
        for (int k = 0; k < corners.Count - 1; k++)
        {
            var a = corners[k];
            var b = corners[k + 1];
            if (x >= a.X && x < b.X)
            {
                y = a.Y + (b.Y - a.Y) * (x - a.X) / (b.X - a.X);
                return true;
            }
        }
        y = corners[^1].Y;
        return true;
    }
}

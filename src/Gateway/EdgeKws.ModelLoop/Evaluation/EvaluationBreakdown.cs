using System.Globalization;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// Accuracy as a distribution (<c>breakdown</c> in <c>evaluation.json</c>): at the deployed threshold, the overall FRR and
/// FA/hour with 95 % intervals, FRR per value of every keyword tag (engine, voice, room, snr, ...), FA/hour per kind of
/// negative audio; and per engine and room the FRR at the sweep's operating point closest below 0.5 FA/hour.
/// Counted from the same detector events as the headline numbers: group keywords add up to <see cref="EvaluationReport.Keywords"/>,
/// kind false accepts to <see cref="EvaluationReport.FalseAccepts"/> and kind hours to <see cref="EvaluationReport.NegativeHours"/>.
/// </summary>
public sealed class EvaluationBreakdown
{
    /// <summary>Threshold the counts are at (the deployed one).</summary>
    public required float Threshold { get; init; }
    /// <summary>Confidence level of every interval (0.95: Wilson for FRR, exact Poisson for FA/hour).</summary>
    public required double Confidence { get; init; }
    /// <summary>All target keywords (value "all").</summary>
    public required FrrGroup OverallFrr { get; init; }
    /// <summary>All negative audio (kind "all").</summary>
    public required FaKindGroup OverallFaPerHour { get; init; }
    /// <summary>FRR per value of each tag key found on the target keywords.</summary>
    public required IReadOnlyList<FrrByTag> FrrBy { get; init; }
    /// <summary>FA/hour per kind of negative audio (segment kinds, gap, unlabelled, positive-background).</summary>
    public required IReadOnlyList<FaKindGroup> FaPerHourByKind { get; init; }
    /// <summary>Per engine and room, the FRR at the sweep threshold whose overall FA/hour is closest below 0.5; null when no threshold gets there.</summary>
    public OperatingPointBreakdown? FrrAtHalfFaPerHour { get; init; }
}

/// <summary>Missed target keywords of one group, with the Wilson 95 % interval of the FRR.</summary>
public sealed class FrrGroup
{
    public required string Value { get; init; }
    public required long Keywords { get; init; }
    public required long Missed { get; init; }
    public required double Frr { get; init; }
    public required double FrrLow95 { get; init; }
    public required double FrrHigh95 { get; init; }
}

/// <summary>The groups of one tag key (e.g. every engine).</summary>
public sealed class FrrByTag
{
    public required string Tag { get; init; }
    public required IReadOnlyList<FrrGroup> Groups { get; init; }
}

/// <summary>False accepts over the hours of one kind of negative audio, with the exact Poisson 95 % interval of the rate.</summary>
public sealed class FaKindGroup
{
    public required string Kind { get; init; }
    public required double Hours { get; init; }
    public required long FalseAccepts { get; init; }
    public required double FaPerHour { get; init; }
    public required double FaLow95 { get; init; }
    public required double FaHigh95 { get; init; }
}

/// <summary>FRR groups at one operating point of the sweep (replayed, not the deployed threshold).</summary>
public sealed class OperatingPointBreakdown
{
    /// <summary>The FA/hour the point was chosen under (0.5).</summary>
    public required double TargetFaPerHour { get; init; }
    public required float Threshold { get; init; }
    public required long FalseAccepts { get; init; }
    public required double FaPerHour { get; init; }
    public required FrrGroup Overall { get; init; }
    /// <summary>Engine and room groups (the tags present of those two).</summary>
    public required IReadOnlyList<FrrByTag> By { get; init; }
}

/// <summary>What the detector did in one stream at one threshold: which phrases it accepted and when it false-accepted.</summary>
/// <param name="Stream">The stream.</param>
/// <param name="Detected">Per phrase of <see cref="EvaluationStream.Phrases"/>: accepted by a detection (meaningful for the target keyword).</param>
/// <param name="FalseAcceptTimesMs">Time of every false accept ((end frame + 1) x hop), in order.</param>
public sealed record StreamOutcome(EvaluationStream Stream, IReadOnlyList<bool> Detected, IReadOnlyList<double> FalseAcceptTimesMs);

/// <summary>
/// The breakdown's counting rules as functions of plain data, so each rule can be tested on hand-made input.
/// </summary>
public static class AccuracyBreakdown
{
    /// <summary>Group value of a keyword without the tag being grouped.</summary>
    public const string Untagged = "(untagged)";

    /// <summary>The FA/hour under which <see cref="EvaluationBreakdown.FrrAtHalfFaPerHour"/> is read.</summary>
    public const double HalfFaPerHour = 0.5;

    /// <summary>
    /// The kind a false accept at <paramref name="timeMs"/> in a negative stream is attributed to: the segment whose
    /// [start, end + tolerance] holds the time (the latest-starting one if several: the detector reports the end of its
    /// window, so a detection just after a segment ended is still that segment's unless a newer one has begun);
    /// <see cref="SegmentKinds.Gap"/> when none does; <see cref="SegmentKinds.Unlabelled"/> for a stream without segments.
    /// </summary>
    public static string KindAt(IReadOnlyList<EvaluationSegment>? segments, double timeMs, double toleranceMs)
    {
        if (segments is not { Count: > 0 }) return SegmentKinds.Unlabelled;
        EvaluationSegment? best = null;
        foreach (var s in segments)
        {
            if (timeMs < s.StartMs || timeMs > s.EndMs + toleranceMs) continue;
            if (best is null || s.StartMs >= best.StartMs) best = s;
        }
        return best?.Kind ?? SegmentKinds.Gap;
    }

    /// <summary>Milliseconds of each kind in a negative stream: segment lengths, the rest "gap"; all "unlabelled" without segments.</summary>
    public static IReadOnlyDictionary<string, double> MillisecondsByKind(EvaluationStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var ms = new Dictionary<string, double>(StringComparer.Ordinal);
        if (stream.Segments is not { Count: > 0 } segments)
        {
            ms[SegmentKinds.Unlabelled] = stream.DurationMs;
            return ms;
        }
        double covered = 0;
        foreach (var s in segments)
        {
            double length = s.EndMs - s.StartMs;
            ms[s.Kind] = ms.GetValueOrDefault(s.Kind) + length;
            covered += length;
        }
        // Segments are checked to be disjoint and inside the stream, so this is the uncovered time exactly.
        ms[SegmentKinds.Gap] = ms.GetValueOrDefault(SegmentKinds.Gap) + Math.Max(0, stream.DurationMs - covered);
        return ms;
    }

    /// <summary>FRR of a group, with its Wilson interval (NaN without keywords).</summary>
    public static FrrGroup Frr(string value, long keywords, long missed, double z = ConfidenceIntervals.Z95)
    {
        ConfidenceIntervals.TryWilson(missed, keywords, out var ci, z);
        return new FrrGroup
        {
            Value = value,
            Keywords = keywords,
            Missed = missed,
            Frr = keywords > 0 ? missed / (double)keywords : double.NaN,
            FrrLow95 = ci.Low,
            FrrHigh95 = ci.High,
        };
    }

    /// <summary>FA/hour of a kind, with its exact Poisson interval (NaN without hours).</summary>
    public static FaKindGroup Fa(string kind, double hours, long falseAccepts)
    {
        ConfidenceIntervals.TryPoissonRate(falseAccepts, hours, out var ci);
        return new FaKindGroup
        {
            Kind = kind,
            Hours = hours,
            FalseAccepts = falseAccepts,
            FaPerHour = hours > 0 ? falseAccepts / hours : double.NaN,
            FaLow95 = ci.Low,
            FaHigh95 = ci.High,
        };
    }

    /// <summary>
    /// FRR per value of each tag key present on the target keywords of <paramref name="outcomes"/> (only
    /// <paramref name="onlyTags"/> when given). A keyword without the key counts under <see cref="Untagged"/>, so every
    /// tag's groups add up to all keywords. Keys: the known ones in <see cref="StreamTags.Ordered"/> order, then others
    /// by name; values: <see cref="OrderValues"/>.
    /// </summary>
    public static IReadOnlyList<FrrByTag> FrrByTags(IReadOnlyList<StreamOutcome> outcomes, string keyword, IReadOnlyCollection<string>? onlyTags = null)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var keywords = new List<(StreamPhrase Phrase, bool Detected)>();
        foreach (var o in outcomes)
        {
            for (int i = 0; i < o.Stream.Phrases.Count; i++)
            {
                if (o.Stream.Phrases[i].Phrase == keyword) keywords.Add((o.Stream.Phrases[i], o.Detected[i]));
            }
        }
        var keys = keywords.SelectMany(k => k.Phrase.Tags?.Keys ?? []).Distinct(StringComparer.Ordinal)
            .Where(k => onlyTags is null || onlyTags.Contains(k))
            .OrderBy(TagRank)
            .ThenBy(k => k, StringComparer.Ordinal)
            .ToList();
        var result = new List<FrrByTag>(keys.Count);
        foreach (string key in keys)
        {
            var counts = new Dictionary<string, (long Keywords, long Missed)>(StringComparer.Ordinal);
            foreach (var (phrase, detected) in keywords)
            {
                string value = phrase.Tags is not null && phrase.Tags.TryGetValue(key, out string? v) && !string.IsNullOrEmpty(v) ? v : Untagged;
                var c = counts.GetValueOrDefault(value);
                counts[value] = (c.Keywords + 1, c.Missed + (detected ? 0 : 1));
            }
            result.Add(new FrrByTag
            {
                Tag = key,
                Groups = [.. OrderValues(counts.Keys).Select(v => Frr(v, counts[v].Keywords, counts[v].Missed))],
            });
        }
        return result;
    }

    private static int TagRank(string key)
    {
        for (int i = 0; i < StreamTags.Ordered.Count; i++)
        {
            if (StreamTags.Ordered[i] == key) return i;
        }
        return int.MaxValue;
    }

    /// <summary>
    /// FA/hour per kind: false accepts in negative streams by <see cref="KindAt"/>, hours by <see cref="MillisecondsByKind"/>;
    /// false accepts in positive streams under <see cref="SegmentKinds.PositiveBackground"/> with
    /// <paramref name="positiveBackgroundHours"/>. Segment kinds by name, then gap, unlabelled, positive-background;
    /// a kind with neither hours nor false accepts is left out.
    /// </summary>
    public static IReadOnlyList<FaKindGroup> FaByKind(IReadOnlyList<StreamOutcome> outcomes, double positiveBackgroundHours, double toleranceMs)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var ms = new Dictionary<string, double>(StringComparer.Ordinal);
        var fa = new Dictionary<string, long>(StringComparer.Ordinal);
        bool anyPositive = false;
        foreach (var o in outcomes)
        {
            if (o.Stream.Kind == EvaluationStreamKind.Positive)
            {
                anyPositive = true;
                fa[SegmentKinds.PositiveBackground] = fa.GetValueOrDefault(SegmentKinds.PositiveBackground) + o.FalseAcceptTimesMs.Count;
                continue;
            }
            foreach (var (kind, length) in MillisecondsByKind(o.Stream)) ms[kind] = ms.GetValueOrDefault(kind) + length;
            foreach (double t in o.FalseAcceptTimesMs)
            {
                string kind = KindAt(o.Stream.Segments, t, toleranceMs);
                fa[kind] = fa.GetValueOrDefault(kind) + 1;
            }
        }
        var hours = ms.ToDictionary(p => p.Key, p => p.Value / 3_600_000.0, StringComparer.Ordinal);
        if (anyPositive) hours[SegmentKinds.PositiveBackground] = positiveBackgroundHours;
        string[] trailing = [SegmentKinds.Gap, SegmentKinds.Unlabelled, SegmentKinds.PositiveBackground];
        return [.. hours.Keys.Union(fa.Keys)
            .Where(k => hours.GetValueOrDefault(k) > 0 || fa.GetValueOrDefault(k) > 0)
            .OrderBy(k => Array.IndexOf(trailing, k))
            .ThenBy(k => k, StringComparer.Ordinal)
            .Select(k => Fa(k, hours.GetValueOrDefault(k), fa.GetValueOrDefault(k)))];
    }

    /// <summary>
    /// Order of a tag's values: when some start with a number ("0 dB", "10 dB"), those ascending by it, then the rest
    /// ("clean") by name; otherwise by name; <see cref="Untagged"/> last.
    /// </summary>
    public static IReadOnlyList<string> OrderValues(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values.Distinct(StringComparer.Ordinal).ToList();
        return [.. list
            .OrderBy(v => v == Untagged ? 2 : LeadingNumber(v) is null ? 1 : 0)
            .ThenBy(v => LeadingNumber(v) ?? 0)
            .ThenBy(v => v, StringComparer.Ordinal)];
    }

    private static double? LeadingNumber(string value)
    {
        int end = 0;
        if (end < value.Length && value[end] is '-' or '+') end++;
        while (end < value.Length && (char.IsAsciiDigit(value[end]) || value[end] == '.')) end++;
        // The number must be the whole value or be followed by a unit after a space ("10 dB").
        if (end < value.Length && value[end] != ' ') return null;
        return double.TryParse(value.AsSpan(0, end), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d : null;
    }

    /// <summary>
    /// The sweep point whose FA/hour is the highest at or below <paramref name="faPerHour"/> (fewest misses among
    /// those, then the highest threshold); false when none is (or the curve has no negative hours or keywords).
    /// </summary>
    public static bool TryOperatingPointBelow(ReadOnlySpan<StreamingDetPoint> curve, double faPerHour, out StreamingDetPoint point)
    {
        point = default;
        bool found = false;
        foreach (var p in curve)
        {
            if (!(p.FaPerHour <= faPerHour) || p.Keywords <= 0) continue;
            if (!found || p.FaPerHour > point.FaPerHour
                || (p.FaPerHour == point.FaPerHour && (p.MissedKeywords < point.MissedKeywords
                    || (p.MissedKeywords == point.MissedKeywords && p.Threshold > point.Threshold))))
            {
                point = p;
                found = true;
            }
        }
        return found;
    }
}

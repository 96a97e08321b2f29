using System.Globalization;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>How much worse than the current model a candidate may measure and still count as "no worse".</summary>
public sealed record GateMargins
{
    /// <summary>FA/hour; null means one false accept over the evaluated negative hours (the measurement's resolution).</summary>
    public double? FaPerHour { get; init; }
    /// <summary>Absolute FRR; null means max(0.01, one keyword of those evaluated).</summary>
    public double? FalseRejectRate { get; init; }
}

/// <summary>One model's deployed operating point in a gate report.</summary>
public sealed class GateModel
{
    public required string ModelId { get; init; }
    public required string ModelVersion { get; init; }
    public required string ModelSha256 { get; init; }
    public required float Threshold { get; init; }
    public required double FaPerHour { get; init; }
    public required double FalseRejectRate { get; init; }
    public required long FalseAccepts { get; init; }
    public required long MissedKeywords { get; init; }
}

/// <summary>One rule of the gate and how the candidate did.</summary>
public sealed class GateCheck
{
    public required string Name { get; init; }
    public required bool Passed { get; init; }
    public required string Detail { get; init; }
}

/// <summary>The promotion decision with every check and its numbers (<c>gate.json</c>).</summary>
public sealed class GateReport
{
    public const string Format = "edgekws-gate/1";
    public required string FormatVersion { get; init; }
    public required bool Promote { get; init; }
    public required string Summary { get; init; }
    public required GateModel Current { get; init; }
    public required GateModel Candidate { get; init; }
    public required double NegativeHours { get; init; }
    public required long Keywords { get; init; }
    public required double FaPerHourMargin { get; init; }
    public required double FalseRejectRateMargin { get; init; }
    public required IReadOnlyList<GateCheck> Checks { get; init; }
    /// <summary>When the candidate's curve passes but its shipped threshold does not: a threshold of its
    /// sweep that would pass both deployed checks (lowest FA/hour, then lowest FRR), if one exists.</summary>
    public float? SuggestedCandidateThreshold { get; init; }
    /// <summary>Both models' breakdowns side by side (informational; the group rule is the "no engine or room regresses" check).</summary>
    public GateBreakdown? Breakdown { get; init; }
}

/// <summary>Per engine and room FRR and per kind FA/hour of both models, side by side.</summary>
public sealed class GateBreakdown
{
    public required IReadOnlyList<GateFrrByTag> FrrBy { get; init; }
    public required IReadOnlyList<GateFaKind> FaPerHourByKind { get; init; }
}

/// <summary>One tag's groups (engine or room) for both models.</summary>
public sealed class GateFrrByTag
{
    public required string Tag { get; init; }
    public required IReadOnlyList<GateFrrGroup> Groups { get; init; }
}

/// <summary>One group's misses for both models (same keywords: the gate compares evaluations of one set).</summary>
public sealed class GateFrrGroup
{
    public required string Value { get; init; }
    public required long Keywords { get; init; }
    public required long CurrentMissed { get; init; }
    public required long CandidateMissed { get; init; }
    public required double CurrentFrr { get; init; }
    public required double CandidateFrr { get; init; }
}

/// <summary>One kind of negative audio's false accepts for both models.</summary>
public sealed class GateFaKind
{
    public required string Kind { get; init; }
    public required double Hours { get; init; }
    public required long CurrentFalseAccepts { get; init; }
    public required long CandidateFalseAccepts { get; init; }
    public required double CurrentFaPerHour { get; init; }
    public required double CandidateFaPerHour { get; init; }
}

/// <summary>
/// Promotion gate: a candidate replaces the current model only if it is no worse, within stated
/// margins, on the same streaming evaluation set.
/// </summary>
/// <remarks>
/// Rules, with the current model's deployed point (FA_a, FRR_a) and margins m_FA, m_FRR:
/// <list type="number">
/// <item>Comparable: both were evaluated on the same streams (same names, negative hours, keyword count and keyword).</item>
/// <item>Curve (is the model better?): the candidate's DET curve, interpolated, reaches FA/hour &lt;= FA_a + m_FA at
/// FRR = FRR_a, or FRR &lt;= FRR_a + m_FRR at FA/hour = FA_a.</item>
/// <item>Deployed point (does the threshold it ships with realise that?): the candidate at its own threshold has
/// FA/hour &lt;= FA_a + m_FA and FRR &lt;= FRR_a + m_FRR. A model with a good curve and a bad threshold
/// (e.g. the same weights with the threshold lowered) sits on the same curve yet false-wakes more:
/// only this rule catches it.</item>
/// <item>No engine or room regresses: for every engine and room group (keyword tags) with at least
/// <see cref="MinGroupKeywords"/> keywords, the candidate misses at most max(<see cref="GroupMissSlack"/>,
/// <see cref="GroupMissFraction"/> x the group's keywords) more of them than the current model. The overall FRR
/// can hide a model that stops hearing one TTS engine or one room; without tags the check passes ("no tagged groups").</item>
/// </list>
/// Promote = 1 and 2 and 3 and 4. Default margins are the resolution of the measurement: one false accept
/// over the evaluated hours, and one keyword (at least 1 point of FRR).
/// </remarks>
public static class PromotionGate
{
    /// <summary>Name of the group rule in <see cref="GateReport.Checks"/>.</summary>
    public const string GroupCheckName = "no engine or room regresses";
    /// <summary>Groups smaller than this are not judged: a few keywords say too little.</summary>
    public const int MinGroupKeywords = 20;
    /// <summary>Extra misses a group may have whatever its size.</summary>
    public const long GroupMissSlack = 2;
    /// <summary>Extra misses a group may have, as a fraction of its keywords (when more than the slack).</summary>
    public const double GroupMissFraction = 0.10;

    private static readonly string[] GroupTags = [StreamTags.Engine, StreamTags.Room];

    public static GateReport Decide(StreamingEvaluation current, StreamingEvaluation candidate, GateMargins? margins = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(candidate);
        var a = current.Report;
        var c = candidate.Report;
        double mFa = margins?.FaPerHour ?? a.FaPerHourResolution;
        double mFrr = margins?.FalseRejectRate ?? Math.Max(0.01, a.Keywords > 0 ? 1.0 / a.Keywords : 0.01);
        if (!(mFa >= 0) || !(mFrr >= 0)) throw new ArgumentException($"gate margins must be >= 0, got FA/hour {mFa} and FRR {mFrr}");

        var checks = new List<GateCheck>();
        bool comparable = a.Keyword == c.Keyword && a.Keywords == c.Keywords && a.Streams.Count == c.Streams.Count
            && Math.Abs(a.NegativeStreamHours - c.NegativeStreamHours) < 1e-9
            && a.Streams.Select(s => s.Name).SequenceEqual(c.Streams.Select(s => s.Name))
            && a.ToleranceMs == c.ToleranceMs;
        checks.Add(new GateCheck
        {
            Name = "same evaluation set",
            Passed = comparable,
            Detail = comparable
                ? F($"both on {a.Streams.Count} streams, {a.NegativeHours:0.###} negative hours, {a.Keywords} '{a.Keyword}' keywords")
                : F($"current: {a.Streams.Count} streams, {a.NegativeStreamHours:0.###} h, {a.Keywords} '{a.Keyword}'; candidate: {c.Streams.Count} streams, {c.NegativeStreamHours:0.###} h, {c.Keywords} '{c.Keyword}'"),
        });

        bool atFrr = DetInterpolation.TryFaPerHourAtFrr(candidate.Curve, a.FalseRejectRate, out double faAtFrr);
        bool curveFa = atFrr && faAtFrr <= a.FaPerHour + mFa;
        checks.Add(new GateCheck
        {
            Name = "curve: FA/hour at equal FRR",
            Passed = curveFa,
            Detail = atFrr
                ? F($"at FRR {Pct(a.FalseRejectRate)} the candidate reaches {faAtFrr:0.###} FA/h; current {a.FaPerHour:0.###} + margin {mFa:0.###}")
                : F($"the candidate's curve never gets down to FRR {Pct(a.FalseRejectRate)}"),
        });
        bool atFa = DetInterpolation.TryFrrAtFaPerHour(candidate.Curve, a.FaPerHour, out double frrAtFa);
        bool curveFrr = atFa && frrAtFa <= a.FalseRejectRate + mFrr;
        checks.Add(new GateCheck
        {
            Name = "curve: FRR at equal FA/hour",
            Passed = curveFrr,
            Detail = atFa
                ? F($"at {a.FaPerHour:0.###} FA/h the candidate reaches FRR {Pct(frrAtFa)}; current {Pct(a.FalseRejectRate)} + margin {Pct(mFrr)}")
                : F($"the candidate's curve never gets down to {a.FaPerHour:0.###} FA/h"),
        });
        bool deployedFa = c.FaPerHour <= a.FaPerHour + mFa;
        checks.Add(new GateCheck
        {
            Name = "deployed FA/hour",
            Passed = deployedFa,
            Detail = F($"candidate at threshold {c.Threshold:0.####}: {c.FaPerHour:0.###} FA/h ({c.FalseAccepts} false accepts); current at {a.Threshold:0.####}: {a.FaPerHour:0.###} + margin {mFa:0.###}"),
        });
        bool deployedFrr = c.FalseRejectRate <= a.FalseRejectRate + mFrr;
        checks.Add(new GateCheck
        {
            Name = "deployed FRR",
            Passed = deployedFrr,
            Detail = F($"candidate FRR {Pct(c.FalseRejectRate)} ({c.MissedKeywords}/{c.Keywords} missed); current {Pct(a.FalseRejectRate)} + margin {Pct(mFrr)}"),
        });

        GateCheck groups = GroupRegressionCheck(a.Breakdown, c.Breakdown);
        checks.Add(groups);

        bool curveOk = curveFa || curveFrr;
        bool promote = comparable && curveOk && deployedFa && deployedFrr && groups.Passed;
        float? suggestion = null;
        if (comparable && curveOk && !(deployedFa && deployedFrr))
        {
            StreamingDetPoint? best = null;
            foreach (var p in candidate.Curve)
            {
                if (!(p.FaPerHour <= a.FaPerHour + mFa && p.FalseRejectRate <= a.FalseRejectRate + mFrr)) continue;
                if (best is null || p.FaPerHour < best.Value.FaPerHour
                    || (p.FaPerHour == best.Value.FaPerHour && p.FalseRejectRate < best.Value.FalseRejectRate)) best = p;
            }
            suggestion = best?.Threshold;
        }

        string summary;
        if (promote)
            summary = F($"PROMOTE: {c.ModelVersion} is no worse than {a.ModelVersion}: {c.FaPerHour:0.###} vs {a.FaPerHour:0.###} FA/h, FRR {Pct(c.FalseRejectRate)} vs {Pct(a.FalseRejectRate)} (margins {mFa:0.###} FA/h, {Pct(mFrr)})");
        else
        {
            var failed = checks.Where(k => !k.Passed && !(k.Name.StartsWith("curve", StringComparison.Ordinal) && curveOk)).Select(k => k.Name + " (" + k.Detail + ")");
            summary = "REFUSE: " + string.Join("; ", failed)
                + (suggestion is { } s ? F($"; its curve would pass at threshold {s:0.####}") : "");
        }

        return new GateReport
        {
            FormatVersion = GateReport.Format,
            Promote = promote,
            Summary = summary,
            Current = Model(a),
            Candidate = Model(c),
            NegativeHours = a.NegativeHours,
            Keywords = a.Keywords,
            FaPerHourMargin = mFa,
            FalseRejectRateMargin = mFrr,
            Checks = checks,
            SuggestedCandidateThreshold = suggestion,
            Breakdown = SideBySide(a.Breakdown, c.Breakdown),
        };
    }

    /// <summary>
    /// The rule "no engine or room regresses" (see the class remarks) on two breakdowns of the same evaluation set.
    /// Passes with "no tagged groups" when neither has engine or room tags.
    /// </summary>
    public static GateCheck GroupRegressionCheck(EvaluationBreakdown? current, EvaluationBreakdown? candidate)
    {
        var rows = FrrRows(current, candidate);
        if (rows.Count == 0 || rows.All(t => t.Groups.Count == 0))
            return new GateCheck { Name = GroupCheckName, Passed = true, Detail = "no tagged groups" };
        var judged = rows.SelectMany(t => t.Groups.Where(g => g.Keywords >= MinGroupKeywords).Select(g => (t.Tag, Group: g))).ToList();
        if (judged.Count == 0)
        {
            var largest = rows.SelectMany(t => t.Groups.Select(g => (t.Tag, Group: g))).MaxBy(x => x.Group.Keywords);
            return new GateCheck
            {
                Name = GroupCheckName,
                Passed = true,
                Detail = F($"no engine or room group has >= {MinGroupKeywords} keywords (largest: {largest.Tag} {largest.Group.Value}, {largest.Group.Keywords})"),
            };
        }
        var regressions = new List<string>();
        foreach (var (tag, g) in judged)
        {
            double allowed = Math.Max(GroupMissSlack, GroupMissFraction * g.Keywords);
            if (g.CandidateMissed - g.CurrentMissed > allowed)
                regressions.Add(F($"{tag} {g.Value}: candidate misses {g.CandidateMissed}/{g.Keywords}, current {g.CurrentMissed} (allowed +{allowed:0.#})"));
        }
        string checkedGroups = string.Join("; ", judged.GroupBy(x => x.Tag).Select(x => x.Key + " " + string.Join(", ", x.Select(y => F($"{y.Group.Value} ({y.Group.CurrentMissed} -> {y.Group.CandidateMissed} of {y.Group.Keywords})")))));
        return new GateCheck
        {
            Name = GroupCheckName,
            Passed = regressions.Count == 0,
            Detail = regressions.Count == 0
                ? F($"{judged.Count} groups of >= {MinGroupKeywords} keywords, none misses more than max({GroupMissSlack}, {GroupMissFraction * 100:0} %) extra: {checkedGroups}")
                : string.Join("; ", regressions),
        };
    }

    private static GateBreakdown? SideBySide(EvaluationBreakdown? current, EvaluationBreakdown? candidate)
    {
        if (current is null && candidate is null) return null;
        var kinds = new List<GateFaKind>();
        var currentKinds = current?.FaPerHourByKind ?? [];
        var candidateKinds = candidate?.FaPerHourByKind ?? [];
        foreach (string kind in currentKinds.Select(k => k.Kind).Concat(candidateKinds.Select(k => k.Kind)).Distinct(StringComparer.Ordinal))
        {
            var a = currentKinds.FirstOrDefault(k => k.Kind == kind);
            var b = candidateKinds.FirstOrDefault(k => k.Kind == kind);
            kinds.Add(new GateFaKind
            {
                Kind = kind,
                Hours = a?.Hours ?? b!.Hours,
                CurrentFalseAccepts = a?.FalseAccepts ?? 0,
                CandidateFalseAccepts = b?.FalseAccepts ?? 0,
                CurrentFaPerHour = a?.FaPerHour ?? double.NaN,
                CandidateFaPerHour = b?.FaPerHour ?? double.NaN,
            });
        }
        return new GateBreakdown { FrrBy = FrrRows(current, candidate), FaPerHourByKind = kinds };
    }

    /// <summary>Engine and room groups of both breakdowns matched by value (a value missing on one side counts 0 misses there).</summary>
    private static List<GateFrrByTag> FrrRows(EvaluationBreakdown? current, EvaluationBreakdown? candidate)
    {
        var result = new List<GateFrrByTag>();
        foreach (string tag in GroupTags)
        {
            var a = current?.FrrBy.FirstOrDefault(t => t.Tag == tag)?.Groups ?? [];
            var b = candidate?.FrrBy.FirstOrDefault(t => t.Tag == tag)?.Groups ?? [];
            if (a.Count == 0 && b.Count == 0) continue;
            var values = AccuracyBreakdown.OrderValues(a.Select(g => g.Value).Concat(b.Select(g => g.Value)));
            result.Add(new GateFrrByTag
            {
                Tag = tag,
                Groups = [.. values.Select(v =>
                {
                    var x = a.FirstOrDefault(g => g.Value == v);
                    var y = b.FirstOrDefault(g => g.Value == v);
                    return new GateFrrGroup
                    {
                        Value = v,
                        Keywords = Math.Max(x?.Keywords ?? 0, y?.Keywords ?? 0),
                        CurrentMissed = x?.Missed ?? 0,
                        CandidateMissed = y?.Missed ?? 0,
                        CurrentFrr = x?.Frr ?? double.NaN,
                        CandidateFrr = y?.Frr ?? double.NaN,
                    };
                })],
            });
        }
        return result;
    }

    private static GateModel Model(EvaluationReport r) => new()
    {
        ModelId = r.ModelId,
        ModelVersion = r.ModelVersion,
        ModelSha256 = r.ModelSha256,
        Threshold = r.Threshold,
        FaPerHour = r.FaPerHour,
        FalseRejectRate = r.FalseRejectRate,
        FalseAccepts = r.FalseAccepts,
        MissedKeywords = r.MissedKeywords,
    };

    private static string Pct(double x) => (x * 100).ToString("0.#", CultureInfo.InvariantCulture) + " %";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

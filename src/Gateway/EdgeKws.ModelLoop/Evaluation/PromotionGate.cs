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
/// </list>
/// Promote = 1 and 2 and 3. Default margins are the resolution of the measurement: one false accept
/// over the evaluated hours, and one keyword (at least 1 point of FRR).
/// </remarks>
public static class PromotionGate
{
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

        bool curveOk = curveFa || curveFrr;
        bool promote = comparable && curveOk && deployedFa && deployedFrr;
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
        };
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

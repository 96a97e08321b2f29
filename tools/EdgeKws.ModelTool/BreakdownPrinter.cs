using System.Globalization;
using System.Text;
using EdgeKws.ModelLoop.Evaluation;

namespace EdgeKws.ModelTool;

/// <summary>The breakdown as aligned plain-text tables for <c>edgekws-model evaluate</c> and <c>gate</c>.</summary>
public static class BreakdownPrinter
{
    /// <summary>Voices are listed in full up to this many, else the worst ones (highest FRR, then most keywords).</summary>
    public const int MaxVoicesListed = 30;
    /// <summary>How many voices are listed when there are more than <see cref="MaxVoicesListed"/>.</summary>
    public const int WorstVoicesListed = 10;

    /// <summary>Overall line with intervals; FRR by engine, room, SNR (and voice, microphone, noise, then any other tag with two or more values); FA/hour by negative kind; the 0.5 FA/hour point.</summary>
    public static string Format(EvaluationBreakdown b)
    {
        ArgumentNullException.ThrowIfNull(b);
        var sb = new StringBuilder();
        var o = b.OverallFrr;
        var f = b.OverallFaPerHour;
        sb.AppendLine(F($"  overall at threshold {b.Threshold:0.####} ({b.Confidence * 100:0} % intervals): FRR {Pct(o.Frr)} [{Pct(o.FrrLow95)}, {Pct(o.FrrHigh95)}] ({o.Missed}/{o.Keywords} missed), {Rate(f.FaPerHour)} FA/hour [{Rate(f.FaLow95)}, {Rate(f.FaHigh95)}] ({f.FalseAccepts} in {Hours(f.Hours)} h)"));
        string[] known = [StreamTags.Engine, StreamTags.Room, StreamTags.Snr, StreamTags.Voice, StreamTags.Microphone, StreamTags.Noise];
        // Tags a streams file adds of its own (a voice sweep's rate and pitch, a user's "distance") follow the known ones.
        IEnumerable<string> others = b.FrrBy.Select(x => x.Tag).Where(t => !known.Contains(t)).Order(StringComparer.Ordinal);
        foreach (string tag in known.Concat(others))
        {
            var t = b.FrrBy.FirstOrDefault(x => x.Tag == tag);
            // One group says nothing a breakdown would add (microphone "flat" everywhere, noise "pink" everywhere).
            if (t is null || (t.Groups.Count < 2 && tag is not (StreamTags.Engine or StreamTags.Room or StreamTags.Snr))) continue;
            IReadOnlyList<FrrGroup> groups = t.Groups;
            string title = "FRR by " + tag;
            if (tag == StreamTags.Voice && groups.Count > MaxVoicesListed)
            {
                groups = [.. groups.OrderByDescending(g => g.Frr).ThenByDescending(g => g.Keywords).ThenBy(g => g.Value, StringComparer.Ordinal).Take(WorstVoicesListed)];
                title = F($"FRR by voice (worst {WorstVoicesListed} of {t.Groups.Count})");
            }
            FrrTable(sb, title, groups);
        }
        if (b.FaPerHourByKind.Count > 0)
        {
            var rows = b.FaPerHourByKind.Select(k => new[]
            {
                k.Kind, Hours(k.Hours), F($"{k.FalseAccepts}"), Rate(k.FaPerHour), F($"[{Rate(k.FaLow95)}, {Rate(k.FaHigh95)}]"),
            }).ToList();
            Table(sb, ["FA/hour by negative kind", "hours", "false accepts", "FA/hour", "95 % interval"], rows);
        }
        if (b.FrrAtHalfFaPerHour is { } h)
        {
            sb.AppendLine(F($"  at threshold {h.Threshold:0.####} (sweep point closest below {h.TargetFaPerHour:0.#} FA/hour: {Rate(h.FaPerHour)} FA/hour): FRR {Pct(h.Overall.Frr)} ({h.Overall.Missed}/{h.Overall.Keywords} missed)"));
            foreach (var t in h.By) FrrTable(sb, F($"FRR by {t.Tag} at {h.Threshold:0.####}"), t.Groups, indent: 4);
        }
        return sb.ToString();
    }

    /// <summary>The gate's side-by-side rows: FRR per engine and room, FA/hour per kind, current then candidate.</summary>
    public static string FormatGate(GateBreakdown g)
    {
        ArgumentNullException.ThrowIfNull(g);
        var sb = new StringBuilder();
        foreach (var t in g.FrrBy)
        {
            Table(sb, ["FRR by " + t.Tag, "keywords", "current missed", "candidate missed", "current FRR", "candidate FRR"],
                [.. t.Groups.Select(x => new[] { x.Value, F($"{x.Keywords}"), F($"{x.CurrentMissed}"), F($"{x.CandidateMissed}"), Pct(x.CurrentFrr), Pct(x.CandidateFrr) })]);
        }
        if (g.FaPerHourByKind.Count > 0)
        {
            Table(sb, ["FA/hour by negative kind", "hours", "current FA", "candidate FA", "current FA/h", "candidate FA/h"],
                [.. g.FaPerHourByKind.Select(k => new[] { k.Kind, Hours(k.Hours), F($"{k.CurrentFalseAccepts}"), F($"{k.CandidateFalseAccepts}"), Rate(k.CurrentFaPerHour), Rate(k.CandidateFaPerHour) })]);
        }
        return sb.ToString();
    }

    private static void FrrTable(StringBuilder sb, string title, IReadOnlyList<FrrGroup> groups, int indent = 2) =>
        Table(sb, [title, "keywords", "missed", "FRR", "95 % interval"],
            [.. groups.Select(g => new[] { g.Value, F($"{g.Keywords}"), F($"{g.Missed}"), Pct(g.Frr), $"[{Pct(g.FrrLow95)}, {Pct(g.FrrHigh95)}]" })], indent);

    /// <summary>
    /// Header and rows indented by <paramref name="indent"/> spaces, the rows' first cells two more (under the title), first
    /// column left-aligned, the others right-aligned.
    /// </summary>
    private static void Table(StringBuilder sb, string[] header, List<string[]> rows, int indent = 2)
    {
        rows = [.. rows.Select(r => r.Select((c, i) => i == 0 ? "  " + c : c).ToArray())];
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        void Line(string[] cells)
        {
            sb.Append(' ', indent);
            for (int i = 0; i < cells.Length; i++)
            {
                if (i > 0) sb.Append("  ");
                sb.Append(i == 0 ? cells[i].PadRight(widths[i]) : cells[i].PadLeft(widths[i]));
            }
            sb.Append('\n');
        }
        Line(header);
        foreach (var r in rows) Line(r);
    }

    private static string Pct(double x) => double.IsNaN(x) ? "n/a" : F($"{x * 100:0.0} %");

    private static string Rate(double x) => double.IsNaN(x) ? "n/a" : x.ToString(x >= 100 ? "0" : x >= 10 ? "0.#" : x >= 1 ? "0.##" : "0.###", CultureInfo.InvariantCulture);

    // Minutes of one kind are common in a short set: 4 decimals keep them from printing as 0.
    private static string Hours(double h) => h.ToString(h >= 1 ? "0.##" : "0.####", CultureInfo.InvariantCulture);

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

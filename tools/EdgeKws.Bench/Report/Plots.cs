using System.Globalization;
using EdgeKws.ModelLoop.Evaluation;

namespace EdgeKws.Bench.Report;

/// <summary>The report's PNG plots, drawn on the model loop's <see cref="PlotCanvas"/> (same pixel font and PNG encoder as the DET plot).</summary>
public static class Plots
{
    private static readonly (byte R, byte G, byte B)[] Palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)];

    public sealed record Panel(string Title, string Unit, IReadOnlyList<(string Label, double[] Values)> Groups);

    /// <summary>
    /// Percentile bars (p50, p95, p99, p99.9 side by side) for each group (platform), one panel per
    /// measurement, log-scaled value axis so an emulated platform and a native one fit in one panel.
    /// </summary>
    public static byte[] PercentileBars(string title, IReadOnlyList<string> seriesNames, IReadOnlyList<Panel> panels, int width = 720, int panelHeight = 230)
    {
        const int left = 70, right = 20, top = 34, gap = 36;
        int height = top + panels.Count * (panelHeight + gap) + 24;
        var c = new PlotCanvas(width, height);
        c.Fill(255, 255, 255);
        c.Text(left, 8, title, 2, 0, 0, 0);
        // Legend: one colour per percentile.
        int lx = width - right - 8;
        for (int s = seriesNames.Count - 1; s >= 0; s--)
        {
            lx -= c.TextWidth(seriesNames[s], 2) + 22;
            var (r, g, b) = Palette[s % Palette.Length];
            c.FillRect(lx, 8, lx + 12, 18, r, g, b);
            c.Text(lx + 16, 9, seriesNames[s], 2, 0, 0, 0);
        }
        for (int p = 0; p < panels.Count; p++)
        {
            Panel panel = panels[p];
            int y0 = top + p * (panelHeight + gap) + 18, plotH = panelHeight - 40, plotW = width - left - right;
            c.Text(left, y0 - 16, $"{panel.Title} ({panel.Unit})", 2, 0, 0, 0);
            var positive = panel.Groups.SelectMany(g => g.Values).Where(v => v > 0 && double.IsFinite(v)).ToArray();
            if (positive.Length == 0)
            {
                c.Rect(left, y0, left + plotW, y0 + plotH, 0, 0, 0);
                c.Text(left + 10, y0 + plotH / 2, "NOT MEASURED", 2, 120, 120, 120);
                continue;
            }
            int dMin = (int)Math.Floor(Math.Log10(positive.Min())), dMax = (int)Math.Ceiling(Math.Log10(positive.Max()));
            if (dMax == dMin) dMax++;
            double Y(double v) => y0 + plotH * (1 - (Math.Log10(Math.Max(v, Math.Pow(10, dMin))) - dMin) / (dMax - dMin));
            for (int d = dMin; d <= dMax; d++)
            {
                int y = (int)Math.Round(Y(Math.Pow(10, d)));
                c.Line(left, y, left + plotW, y, 225, 225, 225);
                string label = FormatPower(d);
                c.Text(left - 6 - c.TextWidth(label, 2), y - 5, label, 2, 0, 0, 0);
            }
            int groups = panel.Groups.Count, series = seriesNames.Count;
            double groupW = plotW / (double)Math.Max(groups, 1);
            double barW = Math.Min(28, (groupW - 30) / series);
            for (int gi = 0; gi < groups; gi++)
            {
                var (label, values) = panel.Groups[gi];
                double gx = left + gi * groupW + (groupW - barW * series) / 2;
                for (int s = 0; s < series && s < values.Length; s++)
                {
                    if (!(values[s] > 0) || !double.IsFinite(values[s])) continue;
                    var (r, g, b) = Palette[s % Palette.Length];
                    int x0 = (int)Math.Round(gx + s * barW), x1 = (int)Math.Round(gx + (s + 1) * barW) - 2;
                    c.FillRect(x0, (int)Math.Round(Y(values[s])), x1, y0 + plotH, r, g, b);
                }
                string text = label.ToUpperInvariant();
                c.Text((int)(left + gi * groupW + (groupW - c.TextWidth(text, 2)) / 2), y0 + plotH + 6, text, 2, 0, 0, 0);
            }
            c.Rect(left, y0, left + plotW, y0 + plotH, 0, 0, 0);
        }
        return c.ToPng();
    }

    public sealed record Bar(string Label, double Value, double? Budget);

    /// <summary>Horizontal bars of bytes with each budget as a dashed red mark: the memory-vs-budget picture.</summary>
    public static byte[] BudgetBars(string title, IReadOnlyList<Bar> bars, string unit, double unitBytes, int width = 720)
    {
        const int left = 20, right = 30, top = 40, rowH = 44;
        int height = top + bars.Count * rowH + 40;
        var c = new PlotCanvas(width, height);
        c.Fill(255, 255, 255);
        c.Text(left, 10, title, 2, 0, 0, 0);
        double max = bars.Select(b => Math.Max(b.Value, b.Budget ?? 0)).DefaultIfEmpty(1).Max() / unitBytes * 1.08;
        int plotW = width - left - right;
        double X(double v) => left + plotW * Math.Clamp(v / unitBytes / max, 0, 1);
        double step = NiceStep(max / 6);
        for (double t = 0; t <= max; t += step)
        {
            int x = (int)Math.Round(X(t * unitBytes));
            c.Line(x, top, x, top + bars.Count * rowH, 230, 230, 230);
            string label = t.ToString("0.##", CultureInfo.InvariantCulture);
            c.Text(x - c.TextWidth(label, 2) / 2, top + bars.Count * rowH + 6, label, 2, 0, 0, 0);
        }
        string axis = unit.ToUpperInvariant();
        c.Text(width - right - c.TextWidth(axis, 2), top + bars.Count * rowH + 22, axis, 2, 0, 0, 0);
        for (int i = 0; i < bars.Count; i++)
        {
            Bar b = bars[i];
            int y = top + i * rowH;
            bool over = b.Budget is { } budget && b.Value > budget;
            var (r, g, bl) = b.Budget is null ? ((byte)120, (byte)120, (byte)120) : over ? ((byte)214, (byte)39, (byte)40) : ((byte)44, (byte)160, (byte)44);
            c.FillRect(left, y + 16, (int)Math.Round(X(b.Value)), y + 32, r, g, bl);
            string text = $"{b.Label.ToUpperInvariant()}: {(b.Value / unitBytes).ToString("0.##", CultureInfo.InvariantCulture)} {axis}" +
                (b.Budget is { } bb ? $" OF {(bb / unitBytes).ToString("0.##", CultureInfo.InvariantCulture)} {(over ? "- OVER BUDGET" : "(PASS)")}" : " (NO BUDGET)");
            c.Text(left, y + 2, text, 2, 0, 0, 0);
            if (b.Budget is { } limit)
            {
                int bx = (int)Math.Round(X(limit));
                c.Dashed(bx, y + 12, bx, y + 36, 214, 39, 40);
                c.Dashed(bx + 1, y + 12, bx + 1, y + 36, 214, 39, 40);
            }
        }
        return c.ToPng();
    }

    private static double NiceStep(double raw)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double m = raw / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    }

    private static string FormatPower(int d) => d >= 0
        ? Math.Pow(10, d).ToString("0", CultureInfo.InvariantCulture)
        : Math.Pow(10, d).ToString("0." + new string('#', -d), CultureInfo.InvariantCulture);
}

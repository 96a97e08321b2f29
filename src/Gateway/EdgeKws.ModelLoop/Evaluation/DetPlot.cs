using System.Globalization;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>One curve to draw: its points, the deployed point, a label and an RGB colour.</summary>
public sealed record DetPlotSeries(string Label, StreamingDetPoint[] Curve, StreamingDetPoint Deployed, byte R, byte G, byte B);

/// <summary>
/// Draws DET curves as a PNG: x = FA/hour on a log axis (FA/hour 0 is drawn at the left edge, which
/// is half the measurement's resolution), y = FRR in % (linear, 0-100), the goal box
/// (0.5 FA/hour, 5 % FRR) dashed, each model's deployed point as a square. Drawn on a
/// <see cref="PlotCanvas"/> (built-in 3x5 pixel font), so no font files or drawing library are needed.
/// </summary>
public static class DetPlot
{
    public const int DefaultWidth = 640;
    public const int DefaultHeight = 440;
    private const int Left = 64, Right = 30, Top = 44, Bottom = 46;

    /// <summary>Renders the series; <paramref name="negativeHours"/> sets the axis floor (resolution / 2).</summary>
    public static byte[] Render(string title, IReadOnlyList<DetPlotSeries> series, double negativeHours,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("nothing to plot: no series");
        if (width < 200 || height < 150) throw new ArgumentException($"plot must be at least 200x150, got {width}x{height}");
        var c = new PlotCanvas(width, height);
        c.Fill(255, 255, 255);

        double resolution = negativeHours > 0 ? 1 / negativeHours : 1;
        int decadeMin = (int)Math.Floor(Math.Log10(resolution / 2));
        double maxFa = resolution;
        foreach (var s in series)
        {
            foreach (var p in s.Curve)
            {
                if (double.IsFinite(p.FaPerHour)) maxFa = Math.Max(maxFa, p.FaPerHour);
            }
        }
        int decadeMax = Math.Max(decadeMin + 2, (int)Math.Ceiling(Math.Log10(maxFa)));
        double xFloor = Math.Pow(10, decadeMin);
        int plotW = width - Left - Right, plotH = height - Top - Bottom;
        double X(double fa) => Left + plotW * (Math.Log10(Math.Max(fa, xFloor)) - decadeMin) / (decadeMax - decadeMin);
        double Y(double frr) => Top + plotH * (1 - frr);

        // Grid and ticks.
        for (int d = decadeMin; d <= decadeMax; d++)
        {
            int x = (int)Math.Round(X(Math.Pow(10, d)));
            c.Line(x, Top, x, Top + plotH, 225, 225, 225);
            for (int m = 2; m <= 9 && d < decadeMax; m++)
            {
                int xm = (int)Math.Round(X(m * Math.Pow(10, d)));
                c.Line(xm, Top + plotH - 3, xm, Top + plotH, 120, 120, 120);
            }
            string label = d == decadeMin ? "0" : FormatDecade(d);
            c.Text(x - c.TextWidth(label, 2) / 2, Top + plotH + 6, label, 2, 0, 0, 0);
        }
        for (int pct = 0; pct <= 100; pct += 10)
        {
            int y = (int)Math.Round(Y(pct / 100.0));
            c.Line(Left, y, Left + plotW, y, 225, 225, 225);
            string label = pct.ToString(CultureInfo.InvariantCulture);
            c.Text(Left - 6 - c.TextWidth(label, 2), y - 5, label, 2, 0, 0, 0);
        }
        // Goal: 0.5 FA/hour at 5 % FRR.
        int gx = (int)Math.Round(X(0.5)), gy = (int)Math.Round(Y(0.05));
        c.Dashed(gx, Top, gx, Top + plotH, 0, 150, 0);
        c.Dashed(Left, gy, Left + plotW, gy, 0, 150, 0);
        c.Rect(Left, Top, Left + plotW, Top + plotH, 0, 0, 0);

        foreach (var s in series)
        {
            // Ascending thresholds: FA falls and FRR rises along the curve; a staircase keeps its steps visible.
            for (int i = 1; i < s.Curve.Length; i++)
            {
                var p = s.Curve[i - 1];
                var q = s.Curve[i];
                if (!double.IsFinite(p.FaPerHour) || !double.IsFinite(q.FaPerHour) || !double.IsFinite(p.FalseRejectRate) || !double.IsFinite(q.FalseRejectRate)) continue;
                int x0 = (int)Math.Round(X(p.FaPerHour)), y0 = (int)Math.Round(Y(p.FalseRejectRate));
                int x1 = (int)Math.Round(X(q.FaPerHour)), y1 = (int)Math.Round(Y(q.FalseRejectRate));
                c.ThickLine(x0, y0, x1, y0, s.R, s.G, s.B);
                c.ThickLine(x1, y0, x1, y1, s.R, s.G, s.B);
            }
            if (double.IsFinite(s.Deployed.FaPerHour) && double.IsFinite(s.Deployed.FalseRejectRate))
            {
                int dx = (int)Math.Round(X(s.Deployed.FaPerHour)), dy = (int)Math.Round(Y(s.Deployed.FalseRejectRate));
                c.FillRect(dx - 4, dy - 4, dx + 4, dy + 4, s.R, s.G, s.B);
                c.Rect(dx - 5, dy - 5, dx + 5, dy + 5, 0, 0, 0);
            }
        }

        // Legend, title, axis names.
        int ly = Top + 8;
        foreach (var s in series)
        {
            int lx = Left + plotW - 8 - c.TextWidth(s.Label, 2) - 26;
            c.ThickLine(lx, ly + 4, lx + 18, ly + 4, s.R, s.G, s.B);
            c.Text(lx + 24, ly, s.Label, 2, 0, 0, 0);
            ly += 16;
        }
        c.Text(Left, 6, title, 2, 0, 0, 0);
        string xName = "FALSE ACCEPTS PER HOUR (LOG; 0 AT LEFT EDGE)";
        c.Text(Left + (plotW - c.TextWidth(xName, 2)) / 2, height - 18, xName, 2, 0, 0, 0);
        c.Text(8, Top - 16, "FRR %", 2, 0, 0, 0);
        c.Text(gx + 4, Top + plotH - 14, "GOAL", 2, 0, 150, 0);
        return PngWriter.Encode(width, height, c.Pixels);
    }

    private static string FormatDecade(int d) => d >= 0
        ? Math.Pow(10, d).ToString("0", CultureInfo.InvariantCulture)
        : Math.Pow(10, d).ToString("0." + new string('#', -d), CultureInfo.InvariantCulture);
}

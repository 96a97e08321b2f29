using System.Globalization;
using EdgeKws.Shared.Metrics;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>One curve to draw: its points, the deployed point, a label and an RGB colour.</summary>
public sealed record DetPlotSeries(string Label, StreamingDetPoint[] Curve, StreamingDetPoint Deployed, byte R, byte G, byte B);

/// <summary>
/// Draws DET curves as a PNG with ScottPlot (docs/decisions.md): x = FA/hour on a log axis (FA/hour 0 is drawn at the
/// left edge, which is half the measurement's resolution), y = FRR in % (linear, 0-100), the goal lines
/// (0.5 FA/hour, 5 % FRR) dashed, each model's curve as a staircase and its deployed point as a square.
/// </summary>
public static class DetPlot
{
    public const int DefaultWidth = 640;
    public const int DefaultHeight = 440;

    /// <summary>Colour of the goal lines.</summary>
    public static readonly (byte R, byte G, byte B) GoalColour = (0, 150, 0);

    /// <summary>Renders the series; <paramref name="negativeHours"/> sets the axis floor (resolution / 2).</summary>
    public static byte[] Render(string title, IReadOnlyList<DetPlotSeries> series, double negativeHours,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException("nothing to plot: no series");
        if (width < 200 || height < 150) throw new ArgumentException($"plot must be at least 200x150, got {width}x{height}");

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
        // The x axis is in decades (log10 FA/hour); the ticks carry the FA/hour values.
        double X(double fa) => Math.Log10(Math.Max(fa, xFloor));

        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("False accepts per hour (log; 0 at left edge)");
        plot.YLabel("FRR %");
        var xTicks = new NumericManual();
        for (int d = decadeMin; d <= decadeMax; d++)
        {
            xTicks.AddMajor(d, d == decadeMin ? "0" : FormatDecade(d));
            for (int m = 2; m <= 9 && d < decadeMax; m++)
            {
                xTicks.AddMinor(d + Math.Log10(m));
            }
        }
        plot.Axes.Bottom.TickGenerator = xTicks;
        var yTicks = new NumericManual();
        for (int pct = 0; pct <= 100; pct += 10)
        {
            yTicks.AddMajor(pct, pct.ToString(CultureInfo.InvariantCulture));
        }
        plot.Axes.Left.TickGenerator = yTicks;

        Color goal = new(GoalColour.R, GoalColour.G, GoalColour.B);
        plot.Add.VerticalLine(X(0.5), 2, goal, LinePattern.Dashed);
        plot.Add.HorizontalLine(5, 2, goal, LinePattern.Dashed);
        var goalText = plot.Add.Text("goal", X(0.5), 14);
        goalText.LabelFontColor = goal;

        foreach (var s in series)
        {
            Color colour = new(s.R, s.G, s.B);
            // Ascending thresholds: FA falls and FRR rises along the curve; a staircase keeps its steps visible.
            var steps = new List<Coordinates>();
            foreach (var p in s.Curve)
            {
                if (!double.IsFinite(p.FaPerHour) || !double.IsFinite(p.FalseRejectRate)) continue;
                if (steps.Count > 0) steps.Add(new Coordinates(X(p.FaPerHour), steps[^1].Y));
                steps.Add(new Coordinates(X(p.FaPerHour), 100 * p.FalseRejectRate));
            }
            if (steps.Count > 0)
            {
                var line = plot.Add.ScatterLine(steps, colour);
                line.LineWidth = 2;
                line.LegendText = s.Label;
            }
            if (double.IsFinite(s.Deployed.FaPerHour) && double.IsFinite(s.Deployed.FalseRejectRate))
            {
                plot.Add.Marker(X(s.Deployed.FaPerHour), 100 * s.Deployed.FalseRejectRate, MarkerShape.FilledSquare, 10, colour);
            }
        }
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.SetLimits(decadeMin, decadeMax, 0, 100);
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    private static string FormatDecade(int d) => d >= 0
        ? Math.Pow(10, d).ToString("0", CultureInfo.InvariantCulture)
        : Math.Pow(10, d).ToString("0." + new string('#', -d), CultureInfo.InvariantCulture);
}

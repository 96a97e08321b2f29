using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;
using SkiaSharp;

namespace EdgeKws.Bench.Report;

/// <summary>The report's PNG plots, drawn with ScottPlot like the model loop's DET plot (docs/decisions.md).</summary>
public static class Plots
{
    /// <summary>One colour per series (percentile), in order.</summary>
    public static readonly (byte R, byte G, byte B)[] Palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)];

    /// <summary>Bar colours of the budget plot: within budget, over budget, no budget.</summary>
    public static readonly (byte R, byte G, byte B) Pass = (44, 160, 44), Over = (214, 39, 40), NoBudget = (120, 120, 120);

    public sealed record Panel(string Title, string Unit, IReadOnlyList<(string Label, double[] Values)> Groups);

    /// <summary>
    /// Percentile bars (p50, p95, p99, p99.9 side by side) for each group (platform), one panel per
    /// measurement, log-scaled value axis so an emulated platform and a native one fit in one panel.
    /// </summary>
    public static byte[] PercentileBars(string title, IReadOnlyList<string> seriesNames, IReadOnlyList<Panel> panels, int width = 720, int panelHeight = 230)
    {
        ArgumentNullException.ThrowIfNull(seriesNames);
        ArgumentNullException.ThrowIfNull(panels);
        int height = Math.Max(panels.Count, 1) * panelHeight;
        using var surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new InvalidOperationException("SkiaSharp could not create a surface");
        surface.Canvas.Clear(SKColors.White);
        LegendItem[] legend = [.. seriesNames.Select((name, s) => new LegendItem { LabelText = name, FillColor = Colour(Palette[s % Palette.Length]) })];
        for (int p = 0; p < panels.Count; p++)
        {
            Panel panel = panels[p];
            var plot = new Plot();
            // The first panel carries the picture's title; every panel its percentile legend.
            plot.Title(p == 0 ? $"{title}: {panel.Title} ({panel.Unit})" : $"{panel.Title} ({panel.Unit})", 13);
            var positive = panel.Groups.SelectMany(g => g.Values).Where(v => v > 0 && double.IsFinite(v)).ToArray();
            if (positive.Length == 0)
            {
                plot.Add.Text("not measured", 0.05, 0.5);
                plot.Axes.Bottom.TickGenerator = new NumericManual();
                plot.Axes.Left.TickGenerator = new NumericManual();
                plot.Axes.SetLimits(0, 1, 0, 1);
            }
            else
            {
                int dMin = (int)Math.Floor(Math.Log10(positive.Min())), dMax = (int)Math.Ceiling(Math.Log10(positive.Max()));
                if (dMax == dMin) dMax++;
                var yTicks = new NumericManual();
                for (int d = dMin; d <= dMax; d++)
                {
                    yTicks.AddMajor(d, FormatPower(d));
                }
                plot.Axes.Left.TickGenerator = yTicks;
                // Bars in decades (log10 of the value) from the lowest decade up; group g's series s at g x (n + 1) + s.
                int series = seriesNames.Count;
                var bars = new List<ScottPlot.Bar>();
                var xTicks = new NumericManual();
                for (int gi = 0; gi < panel.Groups.Count; gi++)
                {
                    var (label, values) = panel.Groups[gi];
                    double start = gi * (series + 1);
                    xTicks.AddMajor(start + (series - 1) / 2.0, label);
                    for (int s = 0; s < series && s < values.Length; s++)
                    {
                        if (!(values[s] > 0) || !double.IsFinite(values[s])) continue;
                        bars.Add(new ScottPlot.Bar { Position = start + s, Value = Math.Log10(values[s]), ValueBase = dMin, FillColor = Colour(Palette[s % Palette.Length]), LineWidth = 0 });
                    }
                }
                plot.Add.Bars(bars);
                plot.Axes.Bottom.TickGenerator = xTicks;
                plot.Axes.SetLimits(-1, panel.Groups.Count * (series + 1) - 1, dMin, dMax);
                plot.ShowLegend(legend, Alignment.UpperLeft);
            }
            Place(surface.Canvas, plot, p * panelHeight, width, panelHeight);
        }
        using SKImage image = surface.Snapshot();
        using SKData png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    public sealed record Bar(string Label, double Value, double? Budget);

    /// <summary>Horizontal bars of bytes with each budget as a dashed red mark: the memory-vs-budget picture (900 px wide by
    /// default: the bar labels take the left third, and the title is centred over the rest).</summary>
    public static byte[] BudgetBars(string title, IReadOnlyList<Bar> bars, string unit, double unitBytes, int width = 900)
    {
        ArgumentNullException.ThrowIfNull(bars);
        const int rowH = 44;
        int height = 90 + bars.Count * rowH;
        double max = bars.Select(b => Math.Max(b.Value, b.Budget ?? 0)).DefaultIfEmpty(1).Max() / unitBytes * 1.08;
        var plot = new Plot();
        plot.Title(title, 13);
        plot.XLabel(unit);
        var yTicks = new NumericManual();
        var drawn = new List<ScottPlot.Bar>();
        for (int i = 0; i < bars.Count; i++)
        {
            Bar b = bars[i];
            double row = bars.Count - 1 - i; // the first bar on top
            bool over = b.Budget is { } budget && b.Value > budget;
            drawn.Add(new ScottPlot.Bar
            {
                Position = row,
                Value = b.Value / unitBytes,
                Size = 0.5,
                FillColor = Colour(b.Budget is null ? NoBudget : over ? Over : Pass),
                LineWidth = 0,
            });
            yTicks.AddMajor(row, $"{b.Label}: {Format(b.Value / unitBytes)} {unit}" +
                (b.Budget is { } bb ? $" of {Format(bb / unitBytes)} {(over ? "- OVER BUDGET" : "(pass)")}" : " (no budget)"));
            if (b.Budget is { } limit)
            {
                var mark = plot.Add.Line(limit / unitBytes, row - 0.4, limit / unitBytes, row + 0.4);
                mark.LineColor = Colour(Over);
                mark.LineWidth = 2;
                mark.LinePattern = LinePattern.Dashed;
            }
        }
        var barPlot = plot.Add.Bars(drawn);
        barPlot.Horizontal = true;
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.SetLimits(0, max, -0.6, bars.Count - 0.4);
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    // Each plot renders into its own picture (a plot fills the whole canvas with its background), stacked on the page.
    private static void Place(SKCanvas canvas, Plot plot, int top, int width, int height)
    {
        using SKImage image = SKImage.FromEncodedData(plot.GetImageBytes(width, height, ImageFormat.Png));
        canvas.DrawImage(image, 0, top);
    }

    private static Color Colour((byte R, byte G, byte B) c) => new(c.R, c.G, c.B);

    private static string Format(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string FormatPower(int d) => d >= 0
        ? Math.Pow(10, d).ToString("0", CultureInfo.InvariantCulture)
        : Math.Pow(10, d).ToString("0." + new string('#', -d), CultureInfo.InvariantCulture);
}

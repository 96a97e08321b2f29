using System.Globalization;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>One curve to draw: its points, the deployed point, a label and an RGB colour.</summary>
public sealed record DetPlotSeries(string Label, StreamingDetPoint[] Curve, StreamingDetPoint Deployed, byte R, byte G, byte B);

/// <summary>
/// Draws DET curves as a PNG: x = FA/hour on a log axis (FA/hour 0 is drawn at the left edge, which
/// is half the measurement's resolution), y = FRR in % (linear, 0-100), the goal box
/// (0.5 FA/hour, 5 % FRR) dashed, each model's deployed point as a square. Text uses a built-in
/// 3x5 pixel font (upper case), so no font files or drawing library are needed.
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
        var c = new Canvas(width, height);
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

    private sealed class Canvas(int width, int height)
    {
        public byte[] Pixels { get; } = new byte[width * height * 3];

        public void Fill(byte r, byte g, byte b)
        {
            for (int i = 0; i < Pixels.Length; i += 3)
            {
                Pixels[i] = r;
                Pixels[i + 1] = g;
                Pixels[i + 2] = b;
            }
        }

        public void Set(int x, int y, byte r, byte g, byte b)
        {
            if ((uint)x >= (uint)width || (uint)y >= (uint)height) return;
            int i = (y * width + x) * 3;
            Pixels[i] = r;
            Pixels[i + 1] = g;
            Pixels[i + 2] = b;
        }

        public void Line(int x0, int y0, int x1, int y1, byte r, byte g, byte b, int dash = 0)
        {
            int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
            int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy, step = 0;
            while (true)
            {
                if (dash == 0 || (step / dash) % 2 == 0) Set(x0, y0, r, g, b);
                step++;
                if (x0 == x1 && y0 == y1) break;
                int e2 = 2 * err;
                if (e2 >= dy) { err += dy; x0 += sx; }
                if (e2 <= dx) { err += dx; y0 += sy; }
            }
        }

        public void Dashed(int x0, int y0, int x1, int y1, byte r, byte g, byte b) => Line(x0, y0, x1, y1, r, g, b, dash: 5);

        public void ThickLine(int x0, int y0, int x1, int y1, byte r, byte g, byte b)
        {
            Line(x0, y0, x1, y1, r, g, b);
            Line(x0 + 1, y0, x1 + 1, y1, r, g, b);
            Line(x0, y0 + 1, x1, y1 + 1, r, g, b);
        }

        public void Rect(int x0, int y0, int x1, int y1, byte r, byte g, byte b)
        {
            Line(x0, y0, x1, y0, r, g, b);
            Line(x0, y1, x1, y1, r, g, b);
            Line(x0, y0, x0, y1, r, g, b);
            Line(x1, y0, x1, y1, r, g, b);
        }

        public void FillRect(int x0, int y0, int x1, int y1, byte r, byte g, byte b)
        {
            for (int y = y0; y <= y1; y++)
            {
                for (int x = x0; x <= x1; x++) Set(x, y, r, g, b);
            }
        }

        public int TextWidth(string text, int scale) => text.Length * 4 * scale - scale;

        public void Text(int x, int y, string text, int scale, byte r, byte g, byte b)
        {
            foreach (char ch in text.ToUpperInvariant())
            {
                ushort glyph = Font.Glyph(ch);
                for (int row = 0; row < 5; row++)
                {
                    for (int col = 0; col < 3; col++)
                    {
                        if ((glyph >> (14 - (row * 3 + col)) & 1) == 0) continue;
                        FillRect(x + col * scale, y + row * scale, x + col * scale + scale - 1, y + row * scale + scale - 1, r, g, b);
                    }
                }
                x += 4 * scale;
            }
        }
    }

    /// <summary>3x5 pixel glyphs, 15 bits row-major from the top-left.</summary>
    private static class Font
    {
        private const string Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ./%-=(),:";
        private static readonly string[] Rows =
        [
            "111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
            "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111",
            "010101111101101", "110101110101110", "011100100100011", "110101101101110", "111100110100111",
            "111100110100100", "011100101101011", "101101111101101", "111010010010111", "001001001101010",
            "101101110101101", "100100100100111", "101111111101101", "110101101101101", "010101101101010",
            "110101110100100", "010101101110011", "110101110101101", "011100010001110", "111010010010010",
            "101101101101111", "101101101101010", "101101111111101", "101101010101101", "101101010010010",
            "111001010100111", "000000000000010", "001001010100100", "101001010100101", "000000111000000",
            "000111000111000", "010100100100010", "010001001001010", "000000000010100", "000010000010000",
        ];

        public static ushort Glyph(char c)
        {
            int i = Chars.IndexOf(c, StringComparison.Ordinal);
            return i < 0 ? (ushort)0 : Convert.ToUInt16(Rows[i], 2);
        }
    }
}

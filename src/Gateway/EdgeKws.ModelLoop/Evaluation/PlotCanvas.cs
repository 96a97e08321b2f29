namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// An RGB pixel canvas for plots (the DET curve, the bench report's bars and CDFs): lines, dashes,
/// rectangles and text in a built-in 3x5 pixel font (upper case), encoded by <see cref="PngWriter"/>.
/// No font files or drawing library, so plots render the same on every machine.
/// </summary>
public sealed class PlotCanvas(int width, int height)
{
    public int Width => width;
    public int Height => height;
    public byte[] Pixels { get; } = new byte[width * height * 3];

    /// <summary>The canvas as a PNG file.</summary>
    public byte[] ToPng() => PngWriter.Encode(width, height, Pixels);

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
            ushort glyph = PlotFont.Glyph(ch);
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
internal static class PlotFont
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

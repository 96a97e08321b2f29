using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using EdgeKws.ModelLoop.Evaluation;

namespace EdgeKws.Bench.Tests;

/// <summary>
/// Decodes the 8-bit RGB, non-interlaced PNGs the report writes: checks the signature and every chunk's
/// CRC, inflates the IDAT stream and unfilters the rows (all five PNG filters), so a plot that a viewer
/// could not open fails here.
/// </summary>
internal static class PngFile
{
    public static (int Width, int Height, byte[] Rgb) Decode(byte[] png)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!png.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException("not a PNG signature");
        int width = 0, height = 0, pos = 8;
        using var idat = new MemoryStream();
        bool ended = false;
        while (pos < png.Length && !ended)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            ReadOnlySpan<byte> data = png.AsSpan(pos + 8, length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + length));
            if (Crc32.Compute(png.AsSpan(pos + 4, 4 + length)) != crc) throw new InvalidDataException($"bad CRC in chunk {type}");
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    if (data[8] != 8 || data[9] != 2 || data[12] != 0) throw new InvalidDataException("expected 8-bit RGB, not interlaced");
                    break;
                case "IDAT": idat.Write(data); break;
                case "IEND": ended = true; break;
            }
            pos += 12 + length;
        }
        if (!ended || width <= 0 || height <= 0) throw new InvalidDataException("missing IHDR or IEND");
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        int stride = width * 3;
        byte[] rows = raw.ToArray();
        if (rows.Length != height * (stride + 1)) throw new InvalidDataException($"{rows.Length} bytes of rows for {width}x{height}");
        var rgb = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            byte filter = rows[y * (stride + 1)];
            for (int x = 0; x < stride; x++)
            {
                int raw0 = rows[y * (stride + 1) + 1 + x];
                int a = x >= 3 ? rgb[y * stride + x - 3] : 0, b = y > 0 ? rgb[(y - 1) * stride + x] : 0, c = x >= 3 && y > 0 ? rgb[(y - 1) * stride + x - 3] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => pa <= pb && pa <= pc ? a : pb <= pc ? b : c,
                    _ => throw new InvalidDataException($"unknown filter {filter}"),
                };
                rgb[y * stride + x] = (byte)(raw0 + predictor);
            }
        }
        return (width, height, rgb);
    }
}

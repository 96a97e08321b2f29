using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace EdgeKws.TestSupport;

/// <summary>An image as RGB bytes, row by row (alpha dropped).</summary>
public sealed record PngImage(int Width, int Height, byte[] Rgb);

/// <summary>
/// Just enough PNG decoding for tests that look at pictures (the bench report's plots, a dashboard screenshot):
/// 8-bit RGB or RGBA, not interlaced. Checks the signature and every chunk's CRC, inflates the IDAT stream and
/// unfilters the rows (all five filters), so a file a viewer could not open fails with <see cref="InvalidDataException"/>.
/// </summary>
public static class PngDecoder
{
    public static PngImage Decode(byte[] png)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (png.Length < 8 || !png.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException("not a PNG signature");
        int width = 0, height = 0, channels = 0, pos = 8;
        using var idat = new MemoryStream();
        bool ended = false;
        while (pos < png.Length && !ended)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = Encoding.ASCII.GetString(png, pos + 4, 4);
            ReadOnlySpan<byte> data = png.AsSpan(pos + 8, length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + length));
            if (System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(pos + 4, 4 + length)) != crc) throw new InvalidDataException($"bad CRC in chunk {type}");
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"PNG colour type {data[9]}: expected RGB (2) or RGBA (6)") };
                    if (data[8] != 8 || data[12] != 0) throw new InvalidDataException("expected 8 bits per channel, not interlaced");
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
        byte[] rows = raw.ToArray();
        int stride = width * channels;
        if (rows.Length != height * (stride + 1)) throw new InvalidDataException($"{rows.Length} bytes of rows for {width}x{height}x{channels}");
        var prev = new byte[stride];
        var cur = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int filter = rows[y * (stride + 1)];
            Array.Copy(rows, (y * (stride + 1)) + 1, cur, 0, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? cur[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => pa <= pb && pa <= pc ? a : pb <= pc ? b : c,
                    _ => throw new InvalidDataException($"unknown PNG filter {filter}"),
                };
                cur[i] = (byte)(cur[i] + predictor);
            }
            for (int x = 0; x < width; x++)
            {
                Array.Copy(cur, x * channels, rgb, ((y * width) + x) * 3, 3);
            }
            (prev, cur) = (cur, prev);
        }
        return new PngImage(width, height, rgb);
    }
}

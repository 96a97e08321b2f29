using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.Shared.Checksums;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

public class PngWriter_Tests
{
    /// <summary>Bitwise CRC-32, written independently of the table-driven encoder.</summary>
    private static uint BitwiseCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    private sealed record Chunk(string Type, byte[] Data);

    /// <summary>Parses a PNG: signature, then chunks, each CRC checked.</summary>
    private static List<Chunk> Parse(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        var chunks = new List<Chunk>();
        int at = 8;
        while (at < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length).ToArray();
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            Assert.Equal(BitwiseCrc(png.AsSpan(at + 4, 4 + length)), crc);
            chunks.Add(new Chunk(type, data));
            at += 12 + length;
        }
        Assert.Equal(png.Length, at);
        return chunks;
    }

    [Fact]
    public void Encoded_image_has_valid_chunks_crcs_dimensions_and_decodes_to_the_same_pixels()
    {
        const int w = 7, h = 5;
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 37);
        var chunks = Parse(PngWriter.Encode(w, h, rgb));

        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks.Select(c => c.Type));
        var ihdr = chunks[0].Data;
        Assert.Equal(w, BinaryPrimitives.ReadInt32BigEndian(ihdr));
        Assert.Equal(h, BinaryPrimitives.ReadInt32BigEndian(ihdr.AsSpan(4)));
        Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, ihdr[8..]);
        using var z = new ZLibStream(new MemoryStream(chunks[1].Data), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var rows = raw.ToArray();
        Assert.Equal(h * (1 + w * 3), rows.Length);
        for (int y = 0; y < h; y++)
        {
            Assert.Equal(0, rows[y * (1 + w * 3)]);
            Assert.Equal(rgb.AsSpan(y * w * 3, w * 3).ToArray(), rows.AsSpan(y * (1 + w * 3) + 1, w * 3).ToArray());
        }
    }

    [Fact]
    public void Crc_matches_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0xAE426082u, Crc32.Compute("IEND"u8)); // the CRC every PNG ends with
    }

    [Fact]
    public void Det_plot_is_a_valid_png_of_the_requested_size_with_the_curve_colour_in_it()
    {
        StreamingDetPoint[] curve = [new(0.1f, 40, 2, 0, 50), new(0.5f, 6, 2, 2, 50), new(0.9f, 1, 2, 10, 50), new(0.99f, 0, 2, 40, 50)];
        byte[] png = DetPlot.Render("TEST", [new DetPlotSeries("A", curve, curve[2], 200, 10, 10)], negativeHours: 2, width: 320, height: 240);
        var chunks = Parse(png);
        Assert.Equal(320, BinaryPrimitives.ReadInt32BigEndian(chunks[0].Data));
        Assert.Equal(240, BinaryPrimitives.ReadInt32BigEndian(chunks[0].Data.AsSpan(4)));
        using var z = new ZLibStream(new MemoryStream(chunks[1].Data), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var px = raw.ToArray();
        int red = 0;
        for (int i = 0; i + 2 < px.Length; i++)
        {
            if (px[i] == 200 && px[i + 1] == 10 && px[i + 2] == 10) red++;
        }
        Assert.True(red > 100, $"only {red} pixels of the curve colour");
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(2, 2, new byte[5]));
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using EdgeKws.Shared.Checksums;

namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// A minimal PNG encoder: 8-bit RGB, no interlace, filter 0 on every row, one IDAT chunk
/// compressed with <see cref="ZLibStream"/>. Enough for plots; no metadata chunks, so the same
/// pixels give the same bytes.
/// </summary>
public static class PngWriter
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes <paramref name="rgb"/> (row-major, 3 bytes per pixel) as a PNG file.</summary>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> rgb)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"image must be at least 1x1, got {width}x{height}");
        if (rgb.Length != checked(width * height * 3)) throw new ArgumentException($"{width}x{height} RGB needs {width * height * 3} bytes, got {rgb.Length}");

        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: truecolour
        ihdr[10] = 0; // deflate
        ihdr[11] = 0; // filter method 0
        ihdr[12] = 0; // no interlace
        WriteChunk(output, "IHDR", ihdr);

        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                int stride = width * 3;
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0); // filter type None
                    z.Write(rgb.Slice(y * stride, stride));
                }
            }
            WriteChunk(output, "IDAT", raw.GetBuffer().AsSpan(0, (int)raw.Length));
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(data);
        uint crc = Crc32.Compute(data, Crc32.Compute(head[4..]));
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}

using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace EdgeKws.Labeling.Dataset;

/// <summary>Writes NumPy <c>.npy</c> v1.0 files (little-endian, C order), streaming rows so a large split never sits in memory.</summary>
public sealed class NpyWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly long _expectedValues;
    private readonly string _path;
    private long _written;

    private NpyWriter(string path, string descr, IReadOnlyList<long> shape)
    {
        _path = path;
        _expectedValues = shape.Aggregate(1L, (a, b) => a * b);
        _stream = File.Create(path);
        string dims = shape.Count == 1 ? shape[0].ToString(CultureInfo.InvariantCulture) + "," : string.Join(", ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture)));
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic (6) + version (2) + length (2) + header, padded with spaces and ended by '\n' to a multiple of 64.
        int total = 10 + header.Length + 1;
        int pad = (64 - (total % 64)) % 64;
        header = header + new string(' ', pad) + "\n";
        Span<byte> pre = stackalloc byte[10];
        pre[0] = 0x93;
        "NUMPY"u8.CopyTo(pre[1..]);
        pre[6] = 1;
        pre[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(pre[8..], checked((ushort)header.Length));
        _stream.Write(pre);
        _stream.Write(Encoding.ASCII.GetBytes(header));
    }

    /// <summary>Creates a float32 array file of the given shape.</summary>
    public static NpyWriter CreateFloat32(string path, params long[] shape) => new(path, "<f4", shape);

    /// <summary>Creates an int64 array file of the given shape.</summary>
    public static NpyWriter CreateInt64(string path, params long[] shape) => new(path, "<i8", shape);

    /// <summary>Appends float32 values.</summary>
    public void Write(ReadOnlySpan<float> values)
    {
        byte[] buf = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buf.AsSpan(i * 4), values[i]);
        }

        _stream.Write(buf);
        _written += values.Length;
    }

    /// <summary>Appends one int64 value.</summary>
    public void Write(long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        _stream.Write(b);
        _written++;
    }

    /// <summary>Closes the file; throws if fewer or more values were written than the shape holds.</summary>
    public void Dispose()
    {
        _stream.Dispose();
        if (_written != _expectedValues)
        {
            throw new InvalidOperationException($"'{_path}' declares {_expectedValues} values but {_written} were written.");
        }
    }
}

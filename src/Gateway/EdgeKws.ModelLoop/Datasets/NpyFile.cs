using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace EdgeKws.ModelLoop.Datasets;

/// <summary>
/// NumPy <c>.npy</c> v1.0 reader and writer for the two array types of the dataset format
/// (docs/dataset-format.md): little-endian C-order float32 (<c>&lt;f4</c>) and int64 (<c>&lt;i8</c>).
/// Anything else is refused with the header it found.
/// </summary>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static (float[] Values, int[] Shape) ReadFloat32(string path)
    {
        var (data, shape) = Read(path, "<f4", 4);
        var values = new float[data.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(i * 4));
        return (values, shape);
    }

    public static (long[] Values, int[] Shape) ReadInt64(string path)
    {
        var (data, shape) = Read(path, "<i8", 8);
        var values = new long[data.Length / 8];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(i * 8));
        return (values, shape);
    }

    public static void WriteFloat32(string path, ReadOnlySpan<float> values, params int[] shape)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        Write(path, "<f4", data, values.Length, shape);
    }

    public static void WriteInt64(string path, ReadOnlySpan<long> values, params int[] shape)
    {
        var data = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(i * 8), values[i]);
        Write(path, "<i8", data, values.Length, shape);
    }

    private static void Write(string path, string descr, byte[] data, int count, int[] shape)
    {
        long product = 1;
        foreach (int d in shape) product *= d;
        if (product != count) throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {product} values, got {count}", nameof(shape));
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic (6) + version (2) + length (2) + header + '\n', padded with spaces to a multiple of 64.
        int total = 10 + header.Length + 1;
        int padded = (total + 63) / 64 * 64;
        header = header.PadRight(header.Length + padded - total) + "\n";
        using var f = File.Create(path);
        f.Write(Magic);
        f.Write([1, 0]);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        f.Write(len);
        f.Write(Encoding.ASCII.GetBytes(header));
        f.Write(data);
    }

    private static (byte[] Data, int[] Shape) Read(string path, string expectedDescr, int elementBytes)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException ex)
        {
            throw new InvalidDataException($"cannot read {path}: {ex.Message}", ex);
        }
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{path} is not a .npy file (no \\x93NUMPY magic)");
        if (bytes[6] != 1) throw new InvalidDataException($"{path}: .npy version {bytes[6]}.{bytes[7]}, only 1.0 is read");
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        if (10 + headerLength > bytes.Length) throw new InvalidDataException($"{path}: truncated .npy header");
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        if (!header.Contains($"'descr': '{expectedDescr}'", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: expected dtype {expectedDescr}, header is {header.Trim()}");
        if (!header.Contains("'fortran_order': False", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: Fortran-order arrays are not supported, header is {header.Trim()}");
        int open = header.IndexOf("'shape': (", StringComparison.Ordinal);
        int close = open < 0 ? -1 : header.IndexOf(')', open);
        if (close < 0) throw new InvalidDataException($"{path}: no shape in header {header.Trim()}");
        string inner = header[(open + 10)..close];
        var shape = inner.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        long count = 1;
        foreach (int d in shape) count *= d;
        int offset = 10 + headerLength;
        if (bytes.Length - offset != count * elementBytes)
            throw new InvalidDataException($"{path}: shape [{string.Join(", ", shape)}] needs {count * elementBytes} data bytes, file has {bytes.Length - offset}");
        return (bytes[offset..], shape);
    }
}

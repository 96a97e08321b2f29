using System.Buffers.Binary;
using System.Runtime.InteropServices;
using EdgeKws.ModelLoop.Onnx.Proto;
using Google.Protobuf;

namespace EdgeKws.ModelLoop.Onnx;

/// <summary>
/// Reads and builds the few ONNX <see cref="TensorProto"/> forms the quantizer needs: float
/// initializers (raw_data or float_data, as exporters write either), and int8 / int32 / float
/// initializers written as little-endian raw_data (the compact form ONNX Runtime prefers).
/// </summary>
public static class OnnxTensors
{
    /// <summary>Element type codes of <c>TensorProto.DataType</c>.</summary>
    public const int Float = (int)TensorProto.Types.DataType.Float;
    public const int Int8 = (int)TensorProto.Types.DataType.Int8;
    public const int Int32 = (int)TensorProto.Types.DataType.Int32;

    /// <summary>The values of a float tensor, whichever field holds them.</summary>
    public static float[] ReadFloats(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.DataType != Float)
        {
            throw new InvalidDataException($"tensor '{tensor.Name}' is {(TensorProto.Types.DataType)tensor.DataType}, expected FLOAT");
        }
        if (tensor.HasDataLocation && tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new InvalidDataException($"tensor '{tensor.Name}' is stored in an external file; embed the weights (a KWS model is small)");
        }
        long count = ElementCount(tensor);
        if (!tensor.RawData.IsEmpty)
        {
            if (tensor.RawData.Length != count * 4)
            {
                throw new InvalidDataException($"tensor '{tensor.Name}' raw_data has {tensor.RawData.Length} bytes for {count} floats");
            }
            var values = new float[count];
            ReadOnlySpan<byte> raw = tensor.RawData.Span;
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4, 4));
            return values;
        }
        if (tensor.FloatData.Count != count)
        {
            throw new InvalidDataException($"tensor '{tensor.Name}' has {tensor.FloatData.Count} float_data values for {count} elements");
        }
        return [.. tensor.FloatData];
    }

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public static long ElementCount(TensorProto tensor)
    {
        long n = 1;
        foreach (long d in tensor.Dims) n = checked(n * d);
        return n;
    }

    public static TensorProto FromFloats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return Make(name, Float, bytes, dims);
    }

    /// <summary>The largest |code| of the model's INT8 weight tensors (initializers of two or more dimensions; zero points are
    /// scalars or vectors), read from the bytes as written: 63 for the 7-bit codes that x86 CPUs without VNNI compute exactly,
    /// up to 127 for a model quantized before them (docs/model-loop.md "Quantizer"); 0 when the model has none.</summary>
    public static int MaxAbsWeightCode(byte[] model)
    {
        int max = 0;
        foreach (TensorProto t in ModelProto.Parser.ParseFrom(model).Graph.Initializer)
        {
            if (t.DataType != Int8 || t.Dims.Count < 2)
            {
                continue;
            }
            ReadOnlySpan<byte> raw = t.RawData.Span;
            if (raw.Length > 0)
            {
                foreach (byte b in raw) max = Math.Max(max, Math.Abs((int)(sbyte)b));
            }
            else
            {
                foreach (int v in t.Int32Data) max = Math.Max(max, Math.Abs(v));
            }
        }
        return max;
    }

    public static TensorProto FromInt8(string name, ReadOnlySpan<sbyte> values, params long[] dims) =>
        Make(name, Int8, MemoryMarshal.AsBytes(values).ToArray(), dims);

    public static TensorProto FromInt32(string name, ReadOnlySpan<int> values, params long[] dims)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        return Make(name, Int32, bytes, dims);
    }

    private static TensorProto Make(string name, int type, byte[] raw, long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.Add(dims);
        return t;
    }

    /// <summary>A tensor-typed value info (element type, optional shape) for graph inputs/outputs.</summary>
    public static ValueInfoProto ValueInfo(string name, int elementType, params long[]? dims)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = elementType };
        if (dims is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            foreach (long d in dims) tensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    /// <summary>An integer attribute (e.g. <c>axis</c>).</summary>
    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>The integer attribute <paramref name="name"/> of a node, or <paramref name="fallback"/>.</summary>
    public static long GetInt(NodeProto node, string name, long fallback)
    {
        foreach (var a in node.Attribute)
        {
            if (a.Name == name) return a.I;
        }
        return fallback;
    }

    /// <summary>The float attribute <paramref name="name"/> of a node, or <paramref name="fallback"/>.</summary>
    public static float GetFloat(NodeProto node, string name, float fallback)
    {
        foreach (var a in node.Attribute)
        {
            if (a.Name == name) return a.F;
        }
        return fallback;
    }
}

using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using Google.Protobuf;

namespace EdgeKws.ModelLoop.Quantization;

/// <summary>
/// Recovers the float graph from a QDQ INT8 model made by <see cref="QdqQuantizer"/>, so a shipped
/// model can be re-calibrated (new activation ranges) without its float original:
/// <list type="bullet">
/// <item>every DequantizeLinear fed by a constant (int8 weights, int32 biases) becomes a float
/// initializer scale x (q - zero point), per channel along the node's axis; a missing zero point is 0
/// (ONNX's default: models after 1.3.0 carry none for weights and biases);</item>
/// <item>every activation QuantizeLinear -> DequantizeLinear pair is removed and its consumers read the
/// float tensor again; an int8 graph input (DequantizeLinear straight after the input) becomes a float
/// input;</item>
/// <item>an activation right after a Conv/Gemm/MatMul with zero point -128 (range [0, max]) is where the
/// quantizer fused a Relu (its saturation was the Relu): a Relu node is put back, so the float graph
/// clips at 0 exactly as the INT8 one does, and quantizing it again fuses it away again.</item>
/// </list>
/// The recovered weights are the INT8 model's weights exactly (no float information is invented); the
/// activation ranges are what is lost and what re-calibration chooses afresh.
/// </summary>
public static class QdqDequantizer
{
    /// <summary>
    /// Suffixes the quantizer gave the tensors it created up to model 1.3.0 (<c>onnx::Conv_110_quantized</c> ->
    /// <c>onnx::Conv_110_DequantizeLinear_Output</c>); stripped so the float weight gets its exporter name back.
    /// Later models name the dequantized constant itself (<c>c0.w</c>, see <see cref="QdqNames"/>), which is kept.
    /// </summary>
    private const string DqSuffix = "_DequantizeLinear_Output";
    private const string QuantizedSuffix = "_quantized";

    private static readonly HashSet<string> WeightedOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };

    /// <summary>The float model of <paramref name="qdqModel"/> (serialized ONNX).</summary>
    /// <exception cref="InvalidDataException">The model is not a QDQ model this can undo (names the node).</exception>
    public static byte[] Dequantize(byte[] qdqModel)
    {
        ArgumentNullException.ThrowIfNull(qdqModel);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(qdqModel);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"not an ONNX model: {e.Message}", e);
        }
        var graph = model.Graph ?? throw new InvalidDataException("the ONNX model has no graph");
        if (graph.Input.Count != 1) throw new InvalidDataException($"expected one graph input, the model has {graph.Input.Count}");
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var nodes = graph.Node.ToList();
        var input = graph.Input[0];
        string outputName = graph.Output.Count == 1 ? graph.Output[0].Name : throw new InvalidDataException($"expected one graph output, the model has {graph.Output.Count}");
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in nodes)
            foreach (string o in n.Output) producers[o] = n;

        var rename = new Dictionary<string, string>(StringComparer.Ordinal); // tensor -> the float tensor that replaces it
        var removed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var newInitializers = new List<TensorProto>();
        var reluAfter = new List<(NodeProto Producer, string Tensor)>();
        int weights = 0, pairs = 0;
        var taken = new HashSet<string>(initializers.Keys.Concat(nodes.SelectMany(n => n.Output)).Append(input.Name), StringComparer.Ordinal);

        foreach (var dq in nodes.Where(n => n.OpType == "DequantizeLinear"))
        {
            if (dq.Input.Count < 2) throw new InvalidDataException($"DequantizeLinear '{dq.Name}' has no scale input");
            string source = dq.Input[0];
            string dqOut = dq.Output[0];
            if (initializers.TryGetValue(source, out var codes))
            {
                // A constant: weights (int8) or a bias (int32).
                float[] values = Dequantize(dq, codes, initializers);
                string name = FloatName(dqOut, source);
                newInitializers.Add(OnnxTensors.FromFloats(name, values, [.. codes.Dims]));
                taken.Add(name);
                rename[dqOut] = name;
                removed.Add(dq);
                weights++;
            }
            else if (source == input.Name)
            {
                // int8 graph input: the device quantized the MFCCs; the float model takes them as they are.
                if (input.Type?.TensorType is { } tt) tt.ElemType = OnnxTensors.Float;
                rename[dqOut] = input.Name;
                removed.Add(dq);
                pairs++;
            }
            else if (producers.TryGetValue(source, out var q) && q.OpType == "QuantizeLinear")
            {
                string floatTensor = q.Input[0];
                rename[dqOut] = floatTensor;
                removed.Add(dq);
                removed.Add(q);
                pairs++;
                sbyte zeroPoint = q.Input.Count > 2 && initializers.TryGetValue(q.Input[2], out var zp) ? (sbyte)zp.RawData.Span[0] : (sbyte)0;
                if (zeroPoint == -128 && producers.TryGetValue(floatTensor, out var p) && WeightedOps.Contains(p.OpType)) reluAfter.Add((p, floatTensor));
            }
            else
            {
                throw new InvalidDataException($"DequantizeLinear '{dq.Name}' reads '{source}', which is neither a constant, the graph input nor a QuantizeLinear output");
            }
        }
        if (nodes.Any(n => n.OpType == "QuantizeLinear" && !removed.Contains(n)))
            throw new InvalidDataException($"QuantizeLinear '{nodes.First(n => n.OpType == "QuantizeLinear" && !removed.Contains(n)).Name}' is not followed by a DequantizeLinear; not a QDQ model");

        var result = new List<NodeProto>();
        var reluTensors = reluAfter.ToDictionary(r => r.Tensor, r => r.Producer, StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            if (removed.Contains(node)) continue;
            for (int k = 0; k < node.Input.Count; k++)
            {
                if (rename.TryGetValue(node.Input[k], out string? r)) node.Input[k] = r;
            }
            result.Add(node);
            foreach (string o in node.Output.ToArray())
            {
                if (!reluTensors.ContainsKey(o)) continue;
                // Put the fused Relu back: the producer writes the pre-activation, the Relu the tensor the rest reads.
                string pre = Unique(o + "_preact");
                node.Output[node.Output.IndexOf(o)] = pre;
                var relu = new NodeProto { OpType = "Relu", Name = Unique(o + "_Relu") };
                relu.Input.Add(pre);
                relu.Output.Add(o);
                result.Add(relu);
            }
        }
        if (rename.ContainsKey(outputName)) throw new InvalidDataException($"the graph output '{outputName}' is a DequantizeLinear output; not a model QdqQuantizer makes");

        var used = new HashSet<string>(result.SelectMany(n => n.Input), StringComparer.Ordinal);
        var finalInitializers = graph.Initializer.Where(t => used.Contains(t.Name)).Concat(newInitializers.Where(t => used.Contains(t.Name))).ToList();
        graph.Initializer.Clear();
        graph.Initializer.Add(finalInitializers);
        graph.Node.Clear();
        graph.Node.Add(result);
        graph.ValueInfo.Clear();
        model.ProducerName = "edgekws-modelloop-dequantized";
        model.DocString = $"Float graph recovered from a QDQ INT8 model by EdgeKws.ModelLoop ({weights} constants dequantized, {pairs} activation pairs removed, {reluAfter.Count} fused Relus restored)";
        return model.ToByteArray();

        string Unique(string name)
        {
            string candidate = name;
            for (int k = 1; taken.Contains(candidate); k++) candidate = name + "_" + k;
            taken.Add(candidate);
            return candidate;
        }

        string FloatName(string dqOutput, string codesName)
        {
            // "w_DequantizeLinear_Output" -> "w" (the float weight's name before quantization), when free.
            string name = dqOutput.EndsWith(DqSuffix, StringComparison.Ordinal) ? dqOutput[..^DqSuffix.Length]
                : codesName.EndsWith(QuantizedSuffix, StringComparison.Ordinal) ? codesName[..^QuantizedSuffix.Length] : dqOutput;
            // The DequantizeLinear's own output ("c0.w") is free: the node goes and the float constant replaces it.
            return name == dqOutput || !taken.Contains(name) ? name : Unique(name);
        }
    }

    /// <summary>scale x (q - zero point) of a constant, per channel along the DequantizeLinear's axis when its scale is a vector.</summary>
    private static float[] Dequantize(NodeProto dq, TensorProto codes, Dictionary<string, TensorProto> initializers)
    {
        if (!initializers.TryGetValue(dq.Input[1], out var scaleTensor)) throw new InvalidDataException($"DequantizeLinear '{dq.Name}': scale '{dq.Input[1]}' is not a constant");
        float[] scales = OnnxTensors.ReadFloats(scaleTensor);
        long count = OnnxTensors.ElementCount(codes);
        int[] q = ReadIntegers(codes, dq.Name);
        int[] zps = dq.Input.Count > 2 && dq.Input[2].Length > 0
            ? (initializers.TryGetValue(dq.Input[2], out var zpTensor) ? ReadIntegers(zpTensor, dq.Name) : throw new InvalidDataException($"DequantizeLinear '{dq.Name}': zero point '{dq.Input[2]}' is not a constant"))
            : new int[scales.Length];
        if (zps.Length != scales.Length) throw new InvalidDataException($"DequantizeLinear '{dq.Name}': {scales.Length} scales but {zps.Length} zero points");
        var values = new float[count];
        if (scales.Length == 1)
        {
            for (long i = 0; i < count; i++) values[i] = scales[0] * (q[i] - zps[0]);
            return values;
        }
        // Per channel: ONNX's axis defaults to 1 and may be negative.
        int rank = codes.Dims.Count;
        long axis = OnnxTensors.GetInt(dq, "axis", 1);
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank || codes.Dims[(int)axis] != scales.Length)
            throw new InvalidDataException($"DequantizeLinear '{dq.Name}': axis {axis} of a [{string.Join(", ", codes.Dims)}] tensor does not have {scales.Length} channels");
        long inner = 1;
        for (int i = (int)axis + 1; i < rank; i++) inner *= codes.Dims[i];
        for (long i = 0; i < count; i++)
        {
            long c = i / inner % scales.Length;
            values[i] = scales[c] * (q[i] - zps[c]);
        }
        return values;
    }

    private static int[] ReadIntegers(TensorProto t, string node)
    {
        long n = OnnxTensors.ElementCount(t);
        var result = new int[n];
        switch (t.DataType)
        {
            case OnnxTensors.Int8:
                if (t.RawData.Length == n) for (int i = 0; i < n; i++) result[i] = (sbyte)t.RawData.Span[i];
                else if (t.Int32Data.Count == n) for (int i = 0; i < n; i++) result[i] = t.Int32Data[i];
                else throw new InvalidDataException($"DequantizeLinear '{node}': int8 tensor '{t.Name}' holds no {n} values");
                return result;
            case OnnxTensors.Int32:
                if (t.RawData.Length == n * 4) for (int i = 0; i < n; i++) result[i] = BitConverter.ToInt32(t.RawData.Span.Slice(i * 4, 4));
                else if (t.Int32Data.Count == n) for (int i = 0; i < n; i++) result[i] = t.Int32Data[i];
                else throw new InvalidDataException($"DequantizeLinear '{node}': int32 tensor '{t.Name}' holds no {n} values");
                return result;
            default:
                throw new InvalidDataException($"DequantizeLinear '{node}': constant '{t.Name}' has element type {t.DataType}; only int8 weights and int32 biases are dequantized");
        }
    }
}

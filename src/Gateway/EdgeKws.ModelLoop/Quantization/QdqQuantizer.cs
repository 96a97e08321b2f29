using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using Google.Protobuf;

namespace EdgeKws.ModelLoop.Quantization;

/// <summary>Element type of the quantized model's input.</summary>
public enum QuantizedInput
{
    /// <summary>Float MFCCs in; the graph starts with QuantizeLinear/DequantizeLinear.</summary>
    Float,
    /// <summary>int8 MFCCs in (the device quantizes with the manifest's scale and zero point); the graph starts with DequantizeLinear.</summary>
    Int8,
}

/// <summary>A quantized model and the facts the device manifest needs.</summary>
public sealed record QuantizedModel(byte[] Bytes, string InputName, QuantizedInput InputType, ActivationQuantization InputQuantization,
    string OutputName, int QuantizedWeightTensors, int QuantizedActivations, int FusedActivations);

/// <summary>
/// Static INT8 quantization of a float ONNX model into QDQ form, the form ONNX Runtime's CPU
/// provider turns into QLinearConv / QGemm kernels (it cannot run ConvInteger):
/// <list type="bullet">
/// <item>weights of Conv, Gemm and MatMul: per-channel symmetric S8 (7-bit codes) along the output-channel axis
/// (Conv: 0; Gemm: 0 with transB=1, else 1; MatMul: the last axis), DequantizeLinear(axis) in front,
/// without a zero-point input (symmetric: 0, DequantizeLinear's default; the type is the codes' int8);</item>
/// <item>biases of Conv and Gemm: int32, scale = input scale x weight scale, no zero-point input (an int32
/// DequantizeLinear's zero point must be 0, the default);</item>
/// <item>every other float activation (graph input and node outputs, not the graph output):
/// per-tensor S8 asymmetric, a QuantizeLinear -> DequantizeLinear pair after its producer; these keep their
/// int8 zero point, which also makes QuantizeLinear emit int8 (without one it emits uint8);</item>
/// <item>tensors and nodes get short structural names (<c>c0.w.q</c>, <c>c0.y.dq</c>: see QdqNames); the graph
/// input and output keep theirs.</item>
/// <item>a Relu whose input comes only from a Conv/Gemm/MatMul is removed and that output takes the
/// Relu's range [0, max] (zero point -128): the quantizer's saturation is the ReLU.</item>
/// </list>
/// S8 (not U8) activations: the device feeds int8 MFCCs and S8xS8 is the fast path of ONNX Runtime's
/// arm64 kernels (the boards). On x86 without VNNI the S8 activations are shifted to U8 for VPMADDUBSW, whose int16 pair
/// sums saturate with 8-bit weights: hence 7-bit weight codes (<see cref="QuantMath.PortableWeightCodeMax"/>).
/// </summary>
public static class QdqQuantizer
{
    private static readonly HashSet<string> WeightedOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };

    /// <summary>
    /// Quantizes <paramref name="floatModel"/> with the activation <paramref name="ranges"/> from <see cref="ActivationCalibrator"/>;
    /// weight codes within +-<paramref name="weightCodeMax"/> (<see cref="QuantMath.PortableWeightCodeMax"/>: the same posteriors on
    /// every CPU; 127 only to rebuild a model quantized before it).
    /// </summary>
    public static QuantizedModel Quantize(byte[] floatModel, IReadOnlyDictionary<string, TensorRange> ranges, QuantizedInput inputType,
        int weightCodeMax = QuantMath.PortableWeightCodeMax)
    {
        ArgumentNullException.ThrowIfNull(floatModel);
        ArgumentNullException.ThrowIfNull(ranges);
        var model = ModelProto.Parser.ParseFrom(floatModel);
        var graph = model.Graph;

        long opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < 13) throw new InvalidDataException($"the model imports opset {opset}; per-channel DequantizeLinear needs opset 13 or later (export with opset_version=13)");
        if (graph.Input.Count != 1) throw new InvalidDataException($"expected one graph input, the model has {graph.Input.Count}");
        if (graph.Output.Count != 1) throw new InvalidDataException($"expected one graph output, the model has {graph.Output.Count}");
        var input = graph.Input[0];
        if (input.Type?.TensorType?.ElemType != OnnxTensors.Float) throw new InvalidDataException($"graph input '{input.Name}' must be float");
        string inputName = input.Name;
        string outputName = graph.Output[0].Name;

        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var nodes = graph.Node.ToList();

        // 1. Fuse Relu into the producing weighted op's output quantization.
        int fused = 0;
        var consumers = CountConsumers(nodes, outputName);
        for (int i = 0; i < nodes.Count; i++)
        {
            var relu = nodes[i];
            if (relu.OpType != "Relu") continue;
            string x = relu.Input[0];
            var producer = nodes.FirstOrDefault(n => n.Output.Contains(x));
            if (producer is null || !WeightedOps.Contains(producer.OpType) || consumers.GetValueOrDefault(x) != 1 || x == outputName) continue;
            if (!ranges.ContainsKey(relu.Output[0])) continue;
            producer.Output[producer.Output.IndexOf(x)] = relu.Output[0];
            nodes.RemoveAt(i);
            i--;
            fused++;
        }

        string Unique(string name)
        {
            string candidate = name;
            for (int k = 1; initializers.ContainsKey(candidate) || nodes.Any(n => n.Output.Contains(candidate)); k++) candidate = name + "_" + k;
            return candidate;
        }

        ActivationQuantization Params(string tensor) =>
            ranges.TryGetValue(tensor, out var r)
                ? QuantMath.Activation(r)
                : throw new InvalidDataException($"no calibrated range for activation '{tensor}'; calibrate the same float model");

        var newInitializers = new List<TensorProto>();
        var activationParams = new Dictionary<string, ActivationQuantization>(StringComparer.Ordinal);
        var dqName = new Dictionary<string, string>(StringComparer.Ordinal);
        var newNodes = new List<NodeProto>();
        int quantizedWeights = 0;

        // 2. Activation QDQ pairs: the graph input first, then each activation after its producer.
        var activationTensors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            if (!ActivationCalibrator.FloatActivationOps.Contains(node.OpType)) continue;
            foreach (string o in node.Output)
            {
                if (o.Length > 0 && o != outputName && ranges.ContainsKey(o)) activationTensors.Add(o);
            }
        }

        List<NodeProto> QdqPair(string tensor, bool quantizeNode)
        {
            var q = Params(tensor);
            activationParams[tensor] = q;
            string scale = Unique(tensor + "_scale");
            string zp = Unique(tensor + "_zero_point");
            newInitializers.Add(OnnxTensors.FromFloats(scale, [q.Scale]));
            initializers[scale] = newInitializers[^1];
            newInitializers.Add(OnnxTensors.FromInt8(zp, [q.ZeroPoint]));
            initializers[zp] = newInitializers[^1];
            string dq = tensor + "_DequantizeLinear_Output";
            dqName[tensor] = dq;
            var list = new List<NodeProto>();
            string quantized = tensor;
            if (quantizeNode)
            {
                quantized = tensor + "_QuantizeLinear_Output";
                list.Add(Node("QuantizeLinear", tensor + "_QuantizeLinear", [tensor, scale, zp], [quantized]));
            }
            list.Add(Node("DequantizeLinear", tensor + "_DequantizeLinear", [quantized, scale, zp], [dq]));
            return list;
        }

        if (inputType == QuantizedInput.Int8)
        {
            input.Type.TensorType.ElemType = OnnxTensors.Int8;
            newNodes.AddRange(QdqPair(inputName, quantizeNode: false));
        }
        else
        {
            newNodes.AddRange(QdqPair(inputName, quantizeNode: true));
        }

        foreach (var node in nodes)
        {
            // Rewire inputs to dequantized activations.
            for (int k = 0; k < node.Input.Count; k++)
            {
                if (dqName.TryGetValue(node.Input[k], out var dq)) node.Input[k] = dq;
            }

            if (WeightedOps.Contains(node.OpType))
            {
                quantizedWeights += QuantizeWeights(node, initializers, activationParams, dqName, newInitializers, newNodes, Unique, weightCodeMax);
            }
            newNodes.Add(node);
            foreach (string o in node.Output)
            {
                if (activationTensors.Contains(o)) newNodes.AddRange(QdqPair(o, quantizeNode: true));
            }
        }

        // Float weights that were replaced are dropped; everything else is kept.
        var used = new HashSet<string>(newNodes.SelectMany(n => n.Input), StringComparer.Ordinal);
        var finalInitializers = graph.Initializer.Where(t => used.Contains(t.Name)).Concat(newInitializers.Where(t => used.Contains(t.Name))).ToList();
        graph.Initializer.Clear();
        graph.Initializer.Add(finalInitializers);
        graph.Node.Clear();
        graph.Node.Add(newNodes);
        QdqNames.Shorten(graph);
        // Shapes of renamed tensors would be stale; ONNX Runtime infers them.
        graph.ValueInfo.Clear();
        model.ProducerName = "edgekws-modelloop-qdq";
        model.DocString = "Static INT8 QDQ (per-channel S8 weights, S8 activations) by EdgeKws.ModelLoop";

        return new QuantizedModel(model.ToByteArray(), inputName, inputType, activationParams[inputName], outputName,
            quantizedWeights, activationParams.Count, fused);
    }

    private static int QuantizeWeights(NodeProto node, Dictionary<string, TensorProto> initializers,
        Dictionary<string, ActivationQuantization> activationParams, Dictionary<string, string> dqName,
        List<TensorProto> newInitializers, List<NodeProto> newNodes, Func<string, string> unique, int weightCodeMax)
    {
        if (node.Input.Count < 2) throw new InvalidDataException($"{node.OpType} node '{node.Name}' has no weight input");
        string wName = node.Input[1];
        if (!initializers.TryGetValue(wName, out var w) || w.DataType != OnnxTensors.Float)
            throw new InvalidDataException($"{node.OpType} node '{node.Name}': weight '{wName}' is not a float initializer; only constant weights are quantized");
        int rank = w.Dims.Count;
        int axis = node.OpType switch
        {
            "Conv" => 0,
            "Gemm" => OnnxTensors.GetInt(node, "transB", 0) != 0 ? 0 : 1,
            _ => rank - 1,
        };
        var (codes, scales) = QuantMath.PerChannelWeights(OnnxTensors.ReadFloats(w), w.Dims.ToArray(), axis, weightCodeMax);
        // No zero point: symmetric codes have zero point 0, DequantizeLinear's default (the type stays int8, from the codes).
        string qn = unique(wName + "_quantized"), sn = unique(wName + "_scale");
        Add(OnnxTensors.FromInt8(qn, codes, [.. w.Dims]));
        Add(OnnxTensors.FromFloats(sn, scales, scales.Length));
        string wdq = wName + "_DequantizeLinear_Output";
        var dqNode = Node("DequantizeLinear", wName + "_DequantizeLinear", [qn, sn], [wdq]);
        dqNode.Attribute.Add(OnnxTensors.IntAttribute("axis", axis));
        newNodes.Add(dqNode);
        node.Input[1] = wdq;

        bool biasQuantizable = node.Input.Count > 2 && node.Input[2].Length > 0
            && (node.OpType == "Conv" || (OnnxTensors.GetFloat(node, "alpha", 1f) == 1f && OnnxTensors.GetFloat(node, "beta", 1f) == 1f));
        if (biasQuantizable && initializers.TryGetValue(node.Input[2], out var b) && b.DataType == OnnxTensors.Float)
        {
            // The activation feeding this op: its input was rewired to "<tensor>_DequantizeLinear_Output".
            string source = dqName.FirstOrDefault(kv => kv.Value == node.Input[0]).Key
                ?? throw new InvalidDataException($"{node.OpType} node '{node.Name}': input '{node.Input[0]}' is not a quantized activation");
            var bias = OnnxTensors.ReadFloats(b);
            if (bias.Length == scales.Length)
            {
                var (bq, bs) = QuantMath.Bias(bias, activationParams[source].Scale, scales);
                // No zero point: an int32 DequantizeLinear's zero point must be 0, the default.
                string bqn = unique(b.Name + "_quantized"), bsn = unique(b.Name + "_scale");
                Add(OnnxTensors.FromInt32(bqn, bq, [.. b.Dims]));
                Add(OnnxTensors.FromFloats(bsn, bs, bs.Length));
                string bdq = b.Name + "_DequantizeLinear_Output";
                var bNode = Node("DequantizeLinear", b.Name + "_DequantizeLinear", [bqn, bsn], [bdq]);
                bNode.Attribute.Add(OnnxTensors.IntAttribute("axis", 0));
                newNodes.Add(bNode);
                node.Input[2] = bdq;
            }
        }
        return 1;

        void Add(TensorProto t)
        {
            newInitializers.Add(t);
            initializers[t.Name] = t;
        }
    }

    private static Dictionary<string, int> CountConsumers(List<NodeProto> nodes, string graphOutput)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in nodes)
            foreach (string i in n.Input) counts[i] = counts.GetValueOrDefault(i) + 1;
        counts[graphOutput] = counts.GetValueOrDefault(graphOutput) + 1;
        return counts;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.Add(inputs);
        n.Output.Add(outputs);
        return n;
    }
}

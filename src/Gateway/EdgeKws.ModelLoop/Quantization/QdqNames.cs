using EdgeKws.ModelLoop.Onnx.Proto;

namespace EdgeKws.ModelLoop.Quantization;

/// <summary>
/// Short tensor and node names for a QDQ graph made by <see cref="QdqQuantizer"/>. The device budget is
/// bytes, and exporter names (<c>/model/blocks/blocks.0/Relu_1_output_0</c>, <c>onnx::Conv_116</c>) with
/// QDQ suffixes (<c>_quantized</c>, <c>_DequantizeLinear_Output</c>), each written once as an initializer or
/// output and again at every node input, cost more than a third of a 58 KB model. The names follow the
/// graph's structure, so a name still says what the tensor is:
/// <list type="bullet">
/// <item>compute node k (every node but QuantizeLinear/DequantizeLinear, in graph order) is named by the
/// capitals of its op type and k: <c>c0</c> (Conv), <c>gap11</c> (GlobalAveragePool), <c>g13</c> (Gemm);
/// its output is <c>c0.y</c>;</item>
/// <item>a constant dequantized into input 1 / 2 of node <c>c0</c> is <c>c0.w</c> / <c>c0.b</c> (other
/// inputs <c>c0.iN</c>), its codes <c>c0.w.q</c>, its scales <c>c0.w.s</c>, its zero point <c>c0.w.z</c>;</item>
/// <item>an activation <c>T</c> is quantized to <c>T.q</c> and dequantized to <c>T.dq</c> with scale
/// <c>T.s</c> and zero point <c>T.z</c> (<c>mfcc.dq</c>, <c>c0.y.q</c>, <c>c0.y.dq</c>).</item>
/// </list>
/// The graph input and output keep their names: the device manifest and the agent address them.
/// Renaming changes no value, attribute or node order, so ONNX Runtime computes exactly what it computed before.
/// </summary>
internal static class QdqNames
{
    /// <summary>Renames every initializer, intermediate tensor and node of <paramref name="graph"/> in place.</summary>
    public static void Shorten(GraphProto graph)
    {
        var kept = new HashSet<string>(graph.Input.Select(i => i.Name).Concat(graph.Output.Select(o => o.Name)), StringComparer.Ordinal);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var taken = new HashSet<string>(kept, StringComparer.Ordinal);
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
            foreach (string o in n.Output) producers[o] = n;
        var prefix = new Dictionary<NodeProto, string>(ReferenceEqualityComparer.Instance);

        // Compute nodes first: activation and constant names derive from them.
        int index = 0;
        foreach (var node in graph.Node.Where(n => !IsQdq(n)))
        {
            string p = Abbreviation(node.OpType) + index++;
            prefix[node] = p;
            node.Name = p;
            for (int k = 0; k < node.Output.Count; k++) Claim(node.Output[k], k == 0 ? p + ".y" : $"{p}.y{k}");
        }
        foreach (var q in graph.Node.Where(n => n.OpType == "QuantizeLinear"))
        {
            string t = Renamed(q.Input[0]);
            ClaimParameters(q, t);
            q.Name = Claim(q.Output[0], t + ".q");
        }
        int loose = 0;
        foreach (var dq in graph.Node.Where(n => n.OpType == "DequantizeLinear"))
        {
            string source = dq.Input[0];
            string name;
            if (initializers.Contains(source))
            {
                string constant = ConstantName(dq.Output[0]);
                Claim(source, constant + ".q");
                ClaimParameters(dq, constant);
                name = Claim(dq.Output[0], constant);
            }
            else
            {
                // An activation: the graph input (int8 in) or a QuantizeLinear output.
                string t = producers.TryGetValue(source, out var q) && q.OpType == "QuantizeLinear" ? Renamed(q.Input[0]) : Renamed(source);
                ClaimParameters(dq, t);
                name = Claim(dq.Output[0], t + ".dq");
            }
            dq.Name = name;
        }
        // Float constants the quantizer kept (shapes, unquantized weights) are named by their first consumer.
        foreach (var node in graph.Node.Where(n => !IsQdq(n)))
        {
            for (int k = 0; k < node.Input.Count; k++)
            {
                if (initializers.Contains(node.Input[k])) Claim(node.Input[k], $"{prefix[node]}.{Slot(k)}");
            }
        }

        foreach (var node in graph.Node)
        {
            for (int k = 0; k < node.Input.Count; k++) node.Input[k] = Renamed(node.Input[k]);
            for (int k = 0; k < node.Output.Count; k++) node.Output[k] = Renamed(node.Output[k]);
        }
        foreach (var t in graph.Initializer) t.Name = Renamed(t.Name);

        string Renamed(string tensor) => map.GetValueOrDefault(tensor, tensor);

        string Claim(string tensor, string name)
        {
            if (tensor.Length == 0 || kept.Contains(tensor)) return tensor;
            if (map.TryGetValue(tensor, out string? existing)) return existing;
            string candidate = name;
            for (int k = 1; !taken.Add(candidate); k++) candidate = $"{name}_{k}";
            map[tensor] = candidate;
            return candidate;
        }

        void ClaimParameters(NodeProto node, string tensor)
        {
            Claim(node.Input[1], tensor + ".s");
            if (node.Input.Count > 2) Claim(node.Input[2], tensor + ".z");
        }

        string ConstantName(string dequantized)
        {
            foreach (var node in graph.Node.Where(n => !IsQdq(n)))
            {
                int slot = node.Input.IndexOf(dequantized);
                if (slot >= 0) return $"{prefix[node]}.{Slot(slot)}";
            }
            return "k" + loose++;
        }
    }

    private static bool IsQdq(NodeProto node) => node.OpType is "QuantizeLinear" or "DequantizeLinear";

    private static string Slot(int input) => input switch { 1 => "w", 2 => "b", _ => "i" + input };

    /// <summary>"Conv" -> "c", "GlobalAveragePool" -> "gap", "MatMul" -> "mm"; an op type without capitals in lower case.</summary>
    private static string Abbreviation(string opType)
    {
        string capitals = string.Concat(opType.Where(char.IsUpper));
        return (capitals.Length > 0 ? capitals : opType).ToLowerInvariant();
    }
}

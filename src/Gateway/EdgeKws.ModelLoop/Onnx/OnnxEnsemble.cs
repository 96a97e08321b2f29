using EdgeKws.ModelLoop.Onnx.Proto;
using Google.Protobuf;

namespace EdgeKws.ModelLoop.Onnx;

/// <summary>
/// Joins several keyword models of the same input and output into one ONNX model whose output is the mean of theirs (a
/// seed or recipe ensemble). The gateway verifier is one: averaging the posteriors of models trained with other seeds or
/// recipes cancels part of each one's own errors (docs/labeling.md "An ensemble verifier"), and a single file keeps the
/// verifier's loading, hashing and registry lineage as they are for one model.
/// </summary>
/// <remarks>
/// Each member's graph is copied with every node, initializer and intermediate tensor name prefixed by <c>m{i}/</c>;
/// the shared input keeps its name and a <c>Mean</c> node writes the shared output name. Members must agree on the
/// input and the output (name, element type, shape) and the default-domain opset, and use no other operator domain; the ensemble takes the highest IR
/// version of its members.
/// </remarks>
public static class OnnxEnsemble
{
    /// <summary>Composes the members (at least two, ONNX model bytes) into one model.</summary>
    /// <exception cref="InvalidDataException">A member cannot be parsed or does not match the first; the message names it.</exception>
    public static byte[] Compose(IReadOnlyList<byte[]> members, string producer = "edgekws-model ensemble")
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count < 2)
        {
            throw new ArgumentException($"an ensemble needs at least two members (got {members.Count})", nameof(members));
        }

        var models = new List<ModelProto>(members.Count);
        for (int i = 0; i < members.Count; i++)
        {
            try
            {
                models.Add(ModelProto.Parser.ParseFrom(members[i]));
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"member {i} is not an ONNX model: {e.Message}");
            }
        }

        ModelProto first = models[0];
        ValueInfoProto input = SingleGraphInput(first, 0);
        ValueInfoProto output = SingleGraphOutput(first, 0);
        long opset = DefaultOpset(first, 0);
        var graph = new GraphProto { Name = "ensemble" };
        graph.Input.Add(input.Clone());
        graph.Output.Add(output.Clone());
        var mean = new NodeProto { OpType = "Mean", Name = "ensemble/mean" };
        mean.Output.Add(output.Name);

        for (int i = 0; i < models.Count; i++)
        {
            ModelProto member = models[i];
            ValueInfoProto memberInput = SingleGraphInput(member, i);
            ValueInfoProto memberOutput = SingleGraphOutput(member, i);
            if (!memberInput.Equals(input))
            {
                throw new InvalidDataException($"member {i}'s input '{memberInput.Name}' differs from member 0's '{input.Name}' (name, type or shape)");
            }
            if (memberOutput.Name != output.Name)
            {
                throw new InvalidDataException($"member {i}'s output is '{memberOutput.Name}', member 0's '{output.Name}'");
            }
            if (!memberOutput.Equals(output))
            {
                // Mean broadcasts: a [1,1] output would be averaged with [1,2] ones without complaint.
                throw new InvalidDataException($"member {i}'s output '{memberOutput.Name}' differs from member 0's in type or shape");
            }
            if (member.Functions.Count > 0 || member.Graph.Node.Any(n => n.Domain.Length > 0 && n.Domain != "ai.onnx"))
            {
                throw new InvalidDataException($"member {i} uses model-local functions or a non-default operator domain; an ensemble takes plain ONNX operators only");
            }
            if (DefaultOpset(member, i) != opset)
            {
                throw new InvalidDataException($"member {i} uses opset {DefaultOpset(member, i)}, member 0 opset {opset}");
            }
            string prefix = $"m{i}/";
            string Rename(string name) => name.Length == 0 || name == input.Name ? name : prefix + name;
            foreach (TensorProto initializer in member.Graph.Initializer)
            {
                TensorProto copy = initializer.Clone();
                copy.Name = Rename(copy.Name);
                graph.Initializer.Add(copy);
            }
            foreach (NodeProto node in member.Graph.Node)
            {
                if (node.OpType is "If" or "Loop" or "Scan")
                {
                    throw new InvalidDataException($"member {i} has a {node.OpType} node: subgraphs are not supported");
                }
                NodeProto copy = node.Clone();
                copy.Name = prefix + (node.Name.Length > 0 ? node.Name : node.OpType);
                for (int k = 0; k < copy.Input.Count; k++) copy.Input[k] = Rename(copy.Input[k]);
                for (int k = 0; k < copy.Output.Count; k++) copy.Output[k] = Rename(copy.Output[k]);
                graph.Node.Add(copy);
            }
            foreach (ValueInfoProto info in member.Graph.ValueInfo)
            {
                ValueInfoProto copy = info.Clone();
                copy.Name = Rename(copy.Name);
                graph.ValueInfo.Add(copy);
            }
            mean.Input.Add(prefix + output.Name);
        }
        graph.Node.Add(mean);

        var model = new ModelProto
        {
            IrVersion = models.Max(m => m.IrVersion),
            ProducerName = producer,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model.ToByteArray();
    }

    private static ValueInfoProto SingleGraphInput(ModelProto model, int index)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        ValueInfoProto[] inputs = model.Graph.Input.Where(v => !initializers.Contains(v.Name)).ToArray();
        return inputs.Length == 1
            ? inputs[0]
            : throw new InvalidDataException($"member {index} has {inputs.Length} graph inputs; a keyword model has one");
    }

    private static ValueInfoProto SingleGraphOutput(ModelProto model, int index) =>
        model.Graph.Output.Count == 1
            ? model.Graph.Output[0]
            : throw new InvalidDataException($"member {index} has {model.Graph.Output.Count} graph outputs; a keyword model has one");

    private static long DefaultOpset(ModelProto model, int index)
    {
        foreach (OperatorSetIdProto set in model.OpsetImport)
        {
            if (set.Domain.Length == 0 || set.Domain == "ai.onnx") return set.Version;
        }
        throw new InvalidDataException($"member {index} imports no default-domain opset");
    }
}

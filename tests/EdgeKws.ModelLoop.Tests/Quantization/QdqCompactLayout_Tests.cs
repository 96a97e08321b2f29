using System.Runtime.InteropServices;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Quantization;

/// <summary>
/// The compact INT8 layout (short names from <c>QdqNames</c>, no zero points on weights and biases) against the
/// layout before it. models/default/hey-edge-1.3.0.int8.onnx is that earlier layout: the quantizer of 1.3.0 made it
/// from hey-edge-1.3.0.float.onnx, and rebuilding it with that quantizer gives the same bytes (SHA-256 75b50d71...).
/// Quantizing the same float model with the same quantization parameters (its activation scales and zero points)
/// must give the same codes and scales and bit-identical posteriors, in fewer bytes.
/// </summary>
public class QdqCompactLayout_Tests(ITestOutputHelper output)
{
    /// <summary>What the compact layout saves on hey-edge-1.3.0 at least (measured: 17,074 bytes, 58,196 -> 41,122).</summary>
    private const int MinSavedBytes = 17_000;

    private static byte[] Default(string file)
    {
        string path = Path.Combine(RepositoryRoot.Path, "models", "default", file);
        Assert.True(File.Exists(path), $"{path} is missing: this test needs the 1.3.0 float model and its INT8 model in the layout before the compact one");
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// Activation ranges that give exactly the scale and zero point each activation of <paramref name="int8"/> has,
    /// keyed by the float tensor it quantizes (the graph input, or the input of a QuantizeLinear).
    /// </summary>
    private static Dictionary<string, TensorRange> RangesOf(byte[] int8)
    {
        var graph = ModelProto.Parser.ParseFrom(int8).Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name);
        var ranges = new Dictionary<string, TensorRange>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
        {
            bool activation = n.OpType == "QuantizeLinear" || (n.OpType == "DequantizeLinear" && n.Input[0] == graph.Input[0].Name);
            if (!activation) continue;
            var q = new ActivationQuantization(OnnxTensors.ReadFloats(init[n.Input[1]])[0], (sbyte)init[n.Input[2]].RawData.Span[0]);
            ranges[n.Input[0]] = RangeGiving(q);
        }
        return ranges;
    }

    /// <summary>A range that <see cref="QuantMath.Activation"/> maps to <paramref name="q"/>, bit for bit.</summary>
    private static TensorRange RangeGiving(ActivationQuantization q)
    {
        // Activation: lo = min(0, Min), hi = max(0, Max), scale = (hi - lo) / 255, zero point = round(-128 - lo / scale).
        float lo = (float)(-(q.ZeroPoint + 128.0) * q.Scale);
        float hi = (float)(lo + (255.0 * q.Scale));
        float up = hi, down = hi;
        for (int step = 0; step < 64; step++, up = MathF.BitIncrement(up), down = MathF.BitDecrement(down))
        {
            if (QuantMath.Activation(new TensorRange(lo, up)) == q) return new TensorRange(lo, up);
            if (QuantMath.Activation(new TensorRange(lo, down)) == q) return new TensorRange(lo, down);
        }
        throw new InvalidOperationException($"no float range gives scale {q.Scale} and zero point {q.ZeroPoint}");
    }

    /// <summary>The constants (int8 weights, int32 biases) and their scales, in graph order.</summary>
    private static List<TensorProto> Constants(byte[] model)
    {
        var graph = ModelProto.Parser.ParseFrom(model).Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name);
        return [.. graph.Node.Where(n => n.OpType == "DequantizeLinear" && init.ContainsKey(n.Input[0])).SelectMany(n => new[] { init[n.Input[0]], init[n.Input[1]] })];
    }

    /// <summary>The synthetic sweep windows, and the same windows at 4x and -4x, so activations saturate too.</summary>
    private static FeatureSplit Windows()
    {
        var sweep = QdqDequantizer_Tests.Windows();
        float[] features = [.. sweep.Features, .. sweep.Features.Select(v => v * 4f), .. sweep.Features.Select(v => v * -4f)];
        return new FeatureSplit(features, new long[sweep.Count * 3], sweep.WindowFrames, sweep.Coefficients);
    }

    /// <summary>hey-edge 1.3.0's weights were quantized at 127 (before <see cref="QuantMath.PortableWeightCodeMax"/>): rebuilt with it.</summary>
    private const int Layout130WeightCodes = 127;

    [Fact]
    public void Compact_layout_of_1_3_0_has_the_same_constants_and_bit_identical_posteriors_in_fewer_bytes()
    {
        byte[] floatModel = Default("hey-edge-1.3.0.float.onnx");
        byte[] shipped = Default("hey-edge-1.3.0.int8.onnx");
        var compact = QdqQuantizer.Quantize(floatModel, RangesOf(shipped), QuantizedInput.Int8, Layout130WeightCodes);
        output.WriteLine($"hey-edge-1.3.0 INT8: {shipped.Length} bytes in the layout of 1.3.0, {compact.Bytes.Length} compact ({shipped.Length - compact.Bytes.Length} saved)");

        var before = Constants(shipped);
        var after = Constants(compact.Bytes);
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].DataType, after[i].DataType);
            Assert.Equal(before[i].Dims, after[i].Dims);
            Assert.True(before[i].RawData.Span.SequenceEqual(after[i].RawData.Span), $"{before[i].Name} differs from {after[i].Name}");
        }

        var windows = Windows();
        float[] expected = WindowScorer.Score(shipped, windows, compact.InputQuantization);
        float[] actual = WindowScorer.Score(compact.Bytes, windows, compact.InputQuantization);
        Assert.True(MemoryMarshal.AsBytes(expected.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(actual.AsSpan())), "posteriors differ from the 1.3.0 layout's");
        Assert.True(shipped.Length - compact.Bytes.Length >= MinSavedBytes, $"saved {shipped.Length - compact.Bytes.Length} bytes, expected at least {MinSavedBytes}");
    }

    [Fact]
    public void Compact_layout_keeps_the_device_names_and_zero_points_only_where_they_set_the_type()
    {
        var compact = QdqQuantizer.Quantize(Default("hey-edge-1.3.0.float.onnx"), RangesOf(Default("hey-edge-1.3.0.int8.onnx")), QuantizedInput.Int8, Layout130WeightCodes);
        var graph = ModelProto.Parser.ParseFrom(compact.Bytes).Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name);
        Assert.Equal("mfcc", graph.Input[0].Name);
        Assert.Equal("posteriors", graph.Output[0].Name);
        Assert.All(graph.Node.Where(n => n.OpType == "DequantizeLinear" && init.ContainsKey(n.Input[0])), n => Assert.Equal(2, n.Input.Count));
        Assert.All(graph.Node.Where(n => n.OpType == "QuantizeLinear"), n => Assert.Equal(OnnxTensors.Int8, init[n.Input[2]].DataType));
        Assert.All(graph.Initializer, t => Assert.True(t.Name.Length <= 10, $"initializer name '{t.Name}'"));
        // Conv 0: weight codes and scales, bias codes and scales, its output's scale and zero point.
        Assert.Equal(["c0.w.q", "c0.w.s", "c0.b.q", "c0.b.s", "c0.y.s", "c0.y.z"], graph.Initializer.Select(t => t.Name).Where(n => n.StartsWith("c0.", StringComparison.Ordinal)));
    }

    [Fact]
    public void Dequantizing_the_compact_layout_and_quantizing_with_the_same_parameters_gives_the_same_model()
    {
        var compact = QdqQuantizer.Quantize(Default("hey-edge-1.3.0.float.onnx"), RangesOf(Default("hey-edge-1.3.0.int8.onnx")), QuantizedInput.Int8, Layout130WeightCodes);
        byte[] recovered = QdqDequantizer.Dequantize(compact.Bytes);
        var recoveredGraph = ModelProto.Parser.ParseFrom(recovered).Graph;
        Assert.Contains(recoveredGraph.Initializer, t => t.Name == "c0.w" && t.DataType == OnnxTensors.Float);
        var again = QdqQuantizer.Quantize(recovered, RangesOf(compact.Bytes), QuantizedInput.Int8, Layout130WeightCodes);
        Assert.Equal(compact.Bytes, again.Bytes);
    }
}

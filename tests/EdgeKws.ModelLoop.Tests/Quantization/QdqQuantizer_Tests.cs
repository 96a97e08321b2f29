using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeKws.ModelLoop.Tests.Quantization;

public class QdqQuantizer_Tests
{
    // Two output channels with very different ranges: a per-tensor scale would crush channel 0.
    private static readonly float[] Weights = [0.5f, -0.25f, 0.125f, 0.0625f, -2.0f, 1.0f, 0.3f, -0.7f];
    private static readonly float[] Bias = [0.1f, -0.2f];

    private static byte[] HandBuiltConv()
    {
        var graph = new GraphProto { Name = "conv" };
        graph.Input.Add(OnnxTensors.ValueInfo("x", OnnxTensors.Float, 1, 1, 4, 3));
        graph.Output.Add(OnnxTensors.ValueInfo("y", OnnxTensors.Float, 1, 2, 3, 2));
        graph.Initializer.Add(OnnxTensors.FromFloats("w", Weights, 2, 1, 2, 2));
        graph.Initializer.Add(OnnxTensors.FromFloats("b", Bias, 2));
        var conv = new NodeProto { OpType = "Conv", Name = "conv" };
        conv.Input.Add(["x", "w", "b"]);
        conv.Output.Add("y");
        graph.Node.Add(conv);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();
    }

    private static readonly Dictionary<string, TensorRange> Ranges = new() { ["x"] = new TensorRange(-1f, 1f) };

    [Fact]
    public void Conv_weights_get_per_channel_symmetric_s8_scales_and_int32_bias_on_axis_0()
    {
        var q = QdqQuantizer.Quantize(HandBuiltConv(), Ranges, QuantizedInput.Float);
        var graph = ModelProto.Parser.ParseFrom(q.Bytes).Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name);

        // Conv node 0 is "c0": codes c0.w.q, scales c0.w.s, dequantized c0.w (QdqNames).
        float[] wScale = OnnxTensors.ReadFloats(init["c0.w.s"]);
        Assert.Equal([0.5f / 63f, 2.0f / 63f], wScale); // 7-bit codes: QuantMath.PortableWeightCodeMax
        sbyte[] codes = init["c0.w.q"].RawData.Span.ToArray().Select(b => (sbyte)b).ToArray();
        // -0.25 / (0.5/63) is 31.5 in exact arithmetic; the float scale is a hair above 0.5/63, so it rounds to 31.
        Assert.Equal(new sbyte[] { 63, -31, 16, 8, -63, 31, 9, -22 }, codes);
        Assert.Equal(OnnxTensors.Int8, init["c0.w.q"].DataType);

        var wDq = graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == "c0.w.q");
        Assert.Equal(0, OnnxTensors.GetInt(wDq, "axis", -1));
        Assert.Equal(["c0.w.q", "c0.w.s"], wDq.Input); // symmetric: zero point 0 is DequantizeLinear's default
        Assert.Equal("c0.w", wDq.Output[0]);

        float xScale = q.InputQuantization.Scale;
        Assert.Equal(2f / 255f, xScale, 6);
        Assert.Equal(OnnxTensors.Int32, init["c0.b.q"].DataType);
        var bDq = graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == "c0.b.q");
        Assert.Equal(["c0.b.q", "c0.b.s"], bDq.Input); // int32: the zero point must be 0, the default
        float[] bScale = OnnxTensors.ReadFloats(init["c0.b.s"]);
        Assert.Equal(xScale * wScale[0], bScale[0]);
        Assert.Equal(xScale * wScale[1], bScale[1]);
        var bq = init["c0.b.q"].RawData.Span;
        Assert.Equal((int)Math.Round(0.1 / bScale[0], MidpointRounding.ToEven), BitConverter.ToInt32(bq[..4]));
        Assert.Equal((int)Math.Round(-0.2 / bScale[1], MidpointRounding.ToEven), BitConverter.ToInt32(bq[4..8]));
        Assert.DoesNotContain(graph.Node, n => n.OpType is "ConvInteger" or "MatMulInteger");
        Assert.DoesNotContain(graph.Initializer, t => t.Name == "w");
    }

    [Fact]
    public void Activations_keep_an_int8_zero_point_and_the_graph_input_and_output_keep_their_names()
    {
        var q = QdqQuantizer.Quantize(HandBuiltConv(), Ranges, QuantizedInput.Float);
        var graph = ModelProto.Parser.ParseFrom(q.Bytes).Graph;
        var init = graph.Initializer.ToDictionary(t => t.Name);
        Assert.Equal("x", graph.Input[0].Name);
        Assert.Equal("y", graph.Output[0].Name);
        Assert.Equal("y", q.OutputName);
        // Without its zero point QuantizeLinear would emit uint8: the zero point sets the S8 type.
        var quantize = graph.Node.Single(n => n.OpType == "QuantizeLinear");
        Assert.Equal(["x", "x.s", "x.z"], quantize.Input);
        Assert.Equal(OnnxTensors.Int8, init["x.z"].DataType);
        Assert.Equal(q.InputQuantization.ZeroPoint, (sbyte)init["x.z"].RawData.Span[0]);
        var dequantize = graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == "x.q");
        Assert.Equal(["x.q", "x.s", "x.z"], dequantize.Input);
        var conv = graph.Node.Single(n => n.OpType == "Conv");
        Assert.Equal("c0", conv.Name);
        Assert.Equal(["x.dq", "c0.w", "c0.b"], conv.Input);
        Assert.Equal(["y"], conv.Output);
    }

    [Theory]
    [InlineData(QuantizedInput.Float)]
    [InlineData(QuantizedInput.Int8)]
    public void OnnxRuntime_runs_the_quantized_conv_within_the_quantization_error_of_float(QuantizedInput inputType)
    {
        byte[] floatModel = HandBuiltConv();
        var q = QdqQuantizer.Quantize(floatModel, Ranges, inputType);
        float[] x = [0.9f, -0.3f, 0.05f, -1f, 0.6f, 0.33f, 0.12f, -0.8f, 0.71f, 0.2f, -0.45f, 0.99f];
        float[] expected = Run(floatModel, x, null);
        float[] actual = Run(q.Bytes, x, inputType == QuantizedInput.Int8 ? q.InputQuantization : null);
        // Input step 2/255 (error <= 1/255 per tap), weight error <= scale/2 per tap, 4 taps of |x| <= 1:
        // |dy| <= sum|w| / 255 + 4 * 0.5 * wScale, for channel 1 (sum|w| 4, wScale 2/63: 7-bit codes) 0.016 + 0.063 = 0.079.
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.InRange(actual[i] - expected[i], -0.079f, 0.079f);
        Assert.NotEqual(expected, actual); // it really is quantized
    }

    [Fact]
    public void Refuses_a_model_below_opset_13_naming_the_opset()
    {
        var model = ModelProto.Parser.ParseFrom(HandBuiltConv());
        model.OpsetImport[0].Version = 11;
        var ex = Assert.Throws<InvalidDataException>(() => QdqQuantizer.Quantize(model.ToByteArray(), Ranges, QuantizedInput.Float));
        Assert.Contains("opset 11", ex.Message);
    }

    [Fact]
    public void Refuses_an_activation_without_a_calibrated_range()
    {
        var ex = Assert.Throws<InvalidDataException>(() => QdqQuantizer.Quantize(HandBuiltConv(), new Dictionary<string, TensorRange>(), QuantizedInput.Float));
        Assert.Contains("'x'", ex.Message);
    }

    private static float[] Run(byte[] model, float[] x, ActivationQuantization? int8)
    {
        using var session = new InferenceSession(model);
        NamedOnnxValue input = int8 is { } q
            ? NamedOnnxValue.CreateFromTensor("x", new DenseTensor<sbyte>(x.Select(v => QuantMath.Quantize(v, q)).ToArray(), [1, 1, 4, 3]))
            : NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [1, 1, 4, 3]));
        using var results = session.Run([input]);
        return results[0].AsTensor<float>().ToArray();
    }
}

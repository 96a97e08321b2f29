using EdgeKws.Detection;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.Shared.Features;

namespace EdgeKws.ModelLoop.Tests.Quantization;

/// <summary>Float graph recovered from the committed INT8 model (models/default, whatever version it holds).</summary>
public class QdqDequantizer_Tests
{
    private static string ManifestPath => Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "models", "default"), "*.int8.manifest.json").Single();

    private static (byte[] Int8, ModelManifest Manifest) DefaultModel()
    {
        Assert.True(ModelManifest.TryParse(File.ReadAllBytes(ManifestPath), out var manifest, out string reason), reason);
        return (File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(ManifestPath)!, manifest!.FileName!)), manifest);
    }

    /// <summary>MFCC windows of 4 s of synthetic sound (sweeps over noise at several levels): realistic feature ranges, not a keyword.</summary>
    internal static FeatureSplit Windows()
    {
        var rng = new Random(5);
        var audio = new float[16_000 * 4];
        for (int i = 0; i < audio.Length; i++)
        {
            double t = i / 16_000.0;
            double level = 0.02 + (0.3 * ((i / 8_000) % 4) / 4.0);
            audio[i] = (float)((level * Math.Sin(2 * Math.PI * (200 + (600 * t)) * t)) + (0.01 * ((rng.NextDouble() * 2) - 1)));
        }
        var config = MfccConfig.Default;
        var frames = new float[(config.FrameCount(audio.Length) + 1) * config.CoefficientCount];
        int n = new MfccExtractor(config).Push(audio, frames);
        const int windowFrames = 98;
        var windows = new List<float>();
        int count = 0;
        for (int start = 0; start + windowFrames <= n; start += 10, count++)
            windows.AddRange(frames.AsSpan(start * config.CoefficientCount, windowFrames * config.CoefficientCount).ToArray());
        return new FeatureSplit([.. windows], new long[count], windowFrames, config.CoefficientCount);
    }

    [Fact]
    public void Recovered_float_graph_has_no_quantize_nodes_and_float_input()
    {
        var (int8, _) = DefaultModel();
        var recovered = ModelProto.Parser.ParseFrom(QdqDequantizer.Dequantize(int8));
        Assert.DoesNotContain(recovered.Graph.Node, n => n.OpType is "QuantizeLinear" or "DequantizeLinear");
        Assert.Equal(OnnxTensors.Float, recovered.Graph.Input[0].Type.TensorType.ElemType);
        Assert.All(recovered.Graph.Initializer.Where(t => t.Dims.Count > 1), t => Assert.Equal(OnnxTensors.Float, t.DataType));
        Assert.Contains(recovered.Graph.Node, n => n.OpType == "Relu"); // the quantizer's fused Relus are back
    }

    [Fact]
    public void OnnxRuntime_gives_the_recovered_float_graph_the_int8_models_posteriors_within_quantization_error()
    {
        var (int8, manifest) = DefaultModel();
        byte[] recovered = QdqDequantizer.Dequantize(int8);
        var windows = Windows();
        var input = new ActivationQuantization(manifest.Input!.QuantScale!.Value, (sbyte)manifest.Input.QuantZeroPoint!.Value);
        float[] q = WindowScorer.Score(int8, windows, input);
        float[] f = WindowScorer.Score(recovered, windows);
        Assert.Equal(q.Length, f.Length);
        double mean = 0, max = 0;
        for (int i = 0; i < q.Length; i++)
        {
            double d = Math.Abs(q[i] - f[i]);
            mean += d / q.Length;
            max = Math.Max(max, d);
        }
        // Same weights; the difference is only the INT8 activations' rounding (and the input's).
        Assert.True(mean < 0.03, $"mean |dp| {mean}");
        Assert.True(max < 0.25, $"max |dp| {max}");
        Assert.NotEqual(q, f); // the float graph really runs in float
    }

    [Fact]
    public void Requantizing_the_recovered_float_graph_gives_back_the_identical_int8_weights_and_scales()
    {
        // Per-channel symmetric S8 with MaxAbs scales is idempotent: the recovered weights are
        // scale x code with some |code| = 127 in every (non-zero) channel, so max|w| / 127 is the same scale
        // again and w / scale rounds back to the same code. Activation ranges play no part in weights.
        var (int8, _) = DefaultModel();
        byte[] recovered = QdqDequantizer.Dequantize(int8);
        var ranges = ActivationCalibrator.Calibrate(recovered, Windows(), CalibrationMethod.MinMax);
        var again = QdqQuantizer.Quantize(recovered, ranges, QuantizedInput.Int8, weightCodeMax: 127); // 1.3.0 was quantized at 127

        // Codes and scales of every weight, in graph order (the names differ: the shipped model may have the
        // layout of 1.3.0, "onnx::Conv_110_quantized", the requantized one has QdqNames' "c0.w.q").
        static List<TensorProto> Weights(byte[] model)
        {
            var g = ModelProto.Parser.ParseFrom(model).Graph;
            var init = g.Initializer.ToDictionary(t => t.Name);
            var result = new List<TensorProto>();
            foreach (var dq in g.Node.Where(n => n.OpType == "DequantizeLinear" && init.TryGetValue(n.Input[0], out var t) && t.DataType == OnnxTensors.Int8))
            {
                result.Add(init[dq.Input[0]]);
                result.Add(init[dq.Input[1]]);
            }
            return result;
        }
        var original = Weights(int8);
        var roundTrip = Weights(again.Bytes);
        Assert.NotEmpty(original);
        Assert.Equal(original.Count, roundTrip.Count);
        for (int i = 0; i < original.Count; i++)
        {
            var (t, r) = (original[i], roundTrip[i]);
            Assert.Equal(t.DataType, r.DataType);
            Assert.Equal(t.Dims, r.Dims);
            if (t.DataType == OnnxTensors.Int8) Assert.True(t.RawData.Span.SequenceEqual(r.RawData.Span), $"int8 codes of {t.Name} differ");
            else Assert.Equal(OnnxTensors.ReadFloats(t), OnnxTensors.ReadFloats(r));
        }
    }

    [Fact]
    public void Refuses_bytes_that_are_not_an_onnx_model_with_a_clear_error()
    {
        var e = Assert.Throws<InvalidDataException>(() => QdqDequantizer.Dequantize([0xff, 0xff, 0xff, 0x01, 0x02]));
        Assert.Contains("ONNX", e.Message, StringComparison.Ordinal);
    }
}

using EdgeKws.Detection;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelLoop.Tests.Fixtures;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Quantization;

[Collection(TrainedModelCollection.Name)]
public class Int8ModelBuilder_Tests(TrainedModelFixture fixture, ITestOutputHelper output)
{
    private QuantizationReport Build(string name, CalibrationMethod method, QuantizedInput input)
    {
        string outDir = Path.Combine(fixture.Root, name);
        var report = Int8ModelBuilder.Build(fixture.FloatModelPath, fixture.TrainingManifestPath, fixture.DatasetDirectory, outDir,
            new Int8BuildOptions { ModelId = "kws-test", ModelVersion = "1.0.0", Method = method, Input = input, CreatedUtc = DateTimeOffset.UnixEpoch });
        output.WriteLine($"{name}: float {report.FloatSizeBytes} B acc {report.FloatAccuracy:F4} | int8 {report.Int8SizeBytes} B acc {report.Int8Accuracy:F4} | " +
                         $"agreement {report.ArgMaxAgreement:F4} max|dp| {report.MaxAbsPosteriorDifference:F4} mean|dp| {report.MeanAbsPosteriorDifference:F5} " +
                         $"on {report.EvaluationWindows} {report.EvaluationSplit} windows; input scale {report.InputScale} zp {report.InputZeroPoint}");
        return report;
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax, QuantizedInput.Int8)]
    [InlineData(CalibrationMethod.Percentile, QuantizedInput.Int8)]
    [InlineData(CalibrationMethod.Percentile, QuantizedInput.Float)]
    public void Int8_model_agrees_with_float_on_real_test_windows_and_fits_64_KB(CalibrationMethod method, QuantizedInput input)
    {
        var r = Build($"{method}-{input}", method, input);
        Assert.InRange(r.Int8SizeBytes, 1, 64 * 1024);
        // (INT8 is not smaller than float for the ~1.5 K-parameter tiny model: per-channel scales and
        // QDQ nodes outweigh 4x smaller weights; docs/model-loop.md has the full-size figures.)
        Assert.True(r.EvaluationWindows >= 50, $"only {r.EvaluationWindows} test windows");
        // Stated tolerance (docs/model-loop.md): >= 97 % arg-max agreement, accuracy within 3 points,
        // mean |posterior difference| <= 0.03.
        Assert.True(r.ArgMaxAgreement >= 0.97, $"agreement {r.ArgMaxAgreement}");
        Assert.InRange(r.Int8Accuracy - r.FloatAccuracy, -0.03, 1.0);
        Assert.InRange(r.MeanAbsPosteriorDifference, 0.0, 0.03);
        Assert.True(r.MaxAbsPosteriorDifference > 0, "INT8 posteriors equal float exactly: nothing was quantized");
    }

    [Fact]
    public void Quantized_graph_is_qdq_with_per_channel_weights_and_no_integer_ops()
    {
        var r = Build("graph-check", CalibrationMethod.Percentile, QuantizedInput.Int8);
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(fixture.Root, "graph-check", r.ModelFile))).Graph;
        Assert.DoesNotContain(graph.Node, n => n.OpType is "ConvInteger" or "MatMulInteger" or "Relu");
        Assert.Equal(1, (int)graph.Input[0].Type.TensorType.ElemType == (int)TensorProto.Types.DataType.Int8 ? 1 : 0);
        Assert.Equal("DequantizeLinear", graph.Node[0].OpType);
        int weighted = graph.Node.Count(n => n.OpType is "Conv" or "Gemm");
        Assert.Equal(weighted, r.QuantizedWeightTensors);
        Assert.All(graph.Initializer.Where(t => t.Name.EndsWith(".q", StringComparison.Ordinal)),
            t => Assert.Contains(t.DataType, new[] { (int)TensorProto.Types.DataType.Int8, (int)TensorProto.Types.DataType.Int32 }));
        Assert.DoesNotContain(graph.Initializer, t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Aggregate(1L, (a, d) => a * d) > 64);

        // 7-bit weight codes, and the report says so from the written bytes: max-abs scaling puts some channel's code at exactly 63.
        Assert.Equal(QuantMath.PortableWeightCodeMax, r.MaxAbsWeightCode);
        int max = graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Int8 && t.Dims.Count >= 2)
            .SelectMany(t => t.RawData.ToByteArray()).Max(b => Math.Abs((int)(sbyte)b));
        Assert.Equal(max, r.MaxAbsWeightCode);
        // The bundled hey-edge 1.3.0, quantized before 7-bit codes, reads as 8-bit.
        string bundled = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "models", "default"), "hey-edge-1.3.0.int8.onnx").Single();
        Assert.Equal(127, EdgeKws.ModelLoop.Onnx.OnnxTensors.MaxAbsWeightCode(File.ReadAllBytes(bundled)));
    }

    [Fact]
    public void Device_loads_the_manifest_and_its_detector_scores_a_window_like_the_scorer()
    {
        var r = Build("device", CalibrationMethod.Percentile, QuantizedInput.Int8);
        string manifestPath = Path.Combine(fixture.Root, "device", r.ManifestFile);
        Assert.True(KeywordModel.TryLoad(manifestPath, EdgeKws.Shared.Features.MfccConfig.Default.FeatureConfigHash, out var model, out string reason), reason);
        Assert.Equal("int8", model!.Manifest.Input!.ElementType);
        Assert.Equal(98, model.Manifest.WindowFrames);
        Assert.True(KeywordDetector.TryCreate(model, new KeywordDetectorOptions(), out var detector, out reason), reason);
        using var d = detector!;

        var info = DatasetInfo.Load(fixture.DatasetDirectory);
        var test = FeatureSplit.Load(fixture.DatasetDirectory, info, "test");
        int keywordWindow = Array.IndexOf(test.Labels, 1L);
        Assert.True(keywordWindow >= 0);
        var posteriors = WindowScorer.Score(model.Bytes.ToArray(), test, new ActivationQuantization(model.Manifest.Input.QuantScale!.Value, (sbyte)model.Manifest.Input.QuantZeroPoint!.Value));
        var window = test.Window(keywordWindow).Span;
        for (int f = 0; f < test.WindowFrames; f++) d.TryPushFrame(window.Slice(f * test.Coefficients, test.Coefficients), out _);
        Assert.Equal(1, d.InferenceCount);
        Assert.Equal(posteriors[keywordWindow * 2 + 1], d.LastRawScore, 5);
    }

    [Fact]
    public void Refuses_a_dataset_with_a_different_feature_config_hash()
    {
        string other = Path.Combine(fixture.Root, "other-dataset");
        Directory.CreateDirectory(other);
        foreach (string f in Directory.GetFiles(fixture.DatasetDirectory)) File.Copy(f, Path.Combine(other, Path.GetFileName(f)), overwrite: true);
        string json = File.ReadAllText(Path.Combine(other, "dataset.json"));
        File.WriteAllText(Path.Combine(other, "dataset.json"), json.Replace(EdgeKws.Shared.Features.MfccConfig.Default.FeatureConfigHash, new string('0', 64), StringComparison.Ordinal));
        var ex = Assert.Throws<InvalidDataException>(() => Int8ModelBuilder.Build(fixture.FloatModelPath, fixture.TrainingManifestPath, other,
            Path.Combine(fixture.Root, "refused"), new Int8BuildOptions { ModelId = "kws-test", ModelVersion = "1.0.0" }));
        Assert.Contains("feature config", ex.Message);
    }
}

using System.Text.Json;
using EdgeKws.Detection;
using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelLoop.Tests.Fixtures;
using EdgeKws.Shared.Features;

namespace EdgeKws.ModelLoop.Tests.Quantization;

/// <summary>Field re-calibration: a shipped INT8 model (no float file) quantized again on other data.</summary>
[Collection(TrainedModelCollection.Name)]
public class Int8ModelBuilder_Recalibrate_Tests(TrainedModelFixture fixture)
{
    /// <summary>The parent: the fixture's float model quantized as version 1.0.0, its training manifest beside it (as in models/default).</summary>
    private string Parent(string name)
    {
        string dir = Path.Combine(fixture.Root, "recal-parent-" + name);
        var report = Int8ModelBuilder.Build(fixture.FloatModelPath, fixture.TrainingManifestPath, fixture.DatasetDirectory, dir,
            new Int8BuildOptions { ModelId = "kws-test", ModelVersion = "1.0.0", Threshold = 0.7f, CreatedUtc = DateTimeOffset.UnixEpoch });
        File.Copy(fixture.TrainingManifestPath, Path.Combine(dir, "kws-test-1.0.0.training-manifest.json"), overwrite: true);
        return Path.Combine(dir, report.ManifestFile);
    }

    private static Dictionary<string, byte[]> Int8Weights(string modelPath) =>
        ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath)).Graph.Initializer
            .Where(t => t.DataType == OnnxTensors.Int8 && t.Dims.Count > 1).ToDictionary(t => t.Name, t => t.RawData.ToByteArray());

    [Fact]
    public void Recalibrated_model_keeps_the_parents_weights_names_its_parent_and_the_calibration_dataset()
    {
        string parent = Parent("lineage");
        string outDir = Path.Combine(fixture.Root, "recal-lineage");
        string version = Int8ModelBuilder.FieldVersion("1.0.0");
        var r = Int8ModelBuilder.Recalibrate(parent, parent.Replace(".int8.manifest.json", ".training-manifest.json", StringComparison.Ordinal),
            fixture.DatasetDirectory, outDir, new Int8BuildOptions { ModelId = "kws-test", ModelVersion = version, CreatedUtc = DateTimeOffset.UnixEpoch });

        Assert.Equal("1.0.1-field.1", version);
        Assert.StartsWith("kws-test 1.0.0 (", r.RecalibratedFrom);
        Assert.Equal("all", r.EvaluationSplit);
        Assert.True(r.ArgMaxAgreement >= 0.97, $"arg-max agreement {r.ArgMaxAgreement}");

        string manifestPath = Path.Combine(outDir, r.ManifestFile);
        Assert.True(KeywordModel.TryLoad(manifestPath, MfccConfig.Default.FeatureConfigHash, out var loaded, out string reason), reason);
        Assert.Equal("1.0.0", loaded!.Manifest.ParentVersion);
        Assert.Equal(version, loaded.Manifest.ModelVersion);
        Assert.Equal(0.7f, loaded.Manifest.Threshold); // the parent's deployed threshold, not the trainer's suggestion

        // Same weights, code for code: re-calibration only chooses activation ranges.
        var before = Int8Weights(Path.Combine(Path.GetDirectoryName(parent)!, "kws-test-1.0.0.int8.onnx"));
        var after = Int8Weights(loaded.ModelPath);
        Assert.NotEmpty(before);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.All(before, kv => Assert.Equal(kv.Value, after[kv.Key]));

        using var training = JsonDocument.Parse(File.ReadAllText(Int8ModelBuilder.TrainingManifestPath(outDir, "kws-test", version)));
        using var parentTraining = JsonDocument.Parse(File.ReadAllText(fixture.TrainingManifestPath));
        string datasetId = EdgeKws.ModelLoop.Datasets.DatasetInfo.Load(fixture.DatasetDirectory).DatasetId!;
        Assert.Equal(parentTraining.RootElement.GetProperty("datasetId").GetString(), training.RootElement.GetProperty("datasetId").GetString());
        Assert.Equal(datasetId, training.RootElement.GetProperty("calibrationDatasetId").GetString());
        Assert.Equal("1.0.0", training.RootElement.GetProperty("recalibratedFrom").GetProperty("modelVersion").GetString());
        Assert.StartsWith($"re-calibrated on {datasetId}", training.RootElement.GetProperty("recalibration").GetString());
    }

    [Fact]
    public void Refuses_a_parent_whose_model_file_does_not_match_its_manifest()
    {
        string parent = Parent("tampered");
        string model = Path.Combine(Path.GetDirectoryName(parent)!, "kws-test-1.0.0.int8.onnx");
        byte[] bytes = File.ReadAllBytes(model);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(model, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Int8ModelBuilder.Recalibrate(parent, parent.Replace(".int8.manifest.json", ".training-manifest.json", StringComparison.Ordinal),
            fixture.DatasetDirectory, Path.Combine(fixture.Root, "recal-tampered"), new Int8BuildOptions { ModelId = "kws-test", ModelVersion = "1.0.1-field.1" }));
        Assert.Contains("differs from the manifest's", e.Message);
    }

    [Theory]
    [InlineData("1.0.0", "1", "1.0.1-field.1")]
    [InlineData("1.1.0", "2", "1.1.1-field.2")]
    [InlineData("1.0.1-field.1", "1", "1.0.2-field.1")]
    [InlineData("1.1.0-run20261123043606-cal", "1", "1.1.1-field.1")]
    public void Field_version_is_the_next_patch_as_a_field_pre_release(string parent, string tag, string expected) =>
        Assert.Equal(expected, Int8ModelBuilder.FieldVersion(parent, tag));

    [Fact]
    public void Field_version_refuses_a_version_that_is_not_semver()
    {
        var e = Assert.Throws<ArgumentException>(() => Int8ModelBuilder.FieldVersion("v7"));
        Assert.Contains("'v7' is not MAJOR.MINOR.PATCH", e.Message);
    }
}

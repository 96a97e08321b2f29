using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelLoop.Tests.Fixtures;
using Google.Protobuf;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Trainer;

/// <summary>
/// train.py's fine-tuning mode on real parts: the fixture's trained tiny model as the parent, real ONNX Runtime to compare
/// posteriors, the real trainer. A copy of the fixture's dataset under another id plays the field dataset; the original is replayed.
/// </summary>
[Collection(TrainedModelCollection.Name)]
public class FineTune_Tests(TrainedModelFixture fixture, ITestOutputHelper output)
{
    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>The fixture's dataset under another id (a field dataset stand-in), made once per test that needs it.</summary>
    private string FieldCopy(string name)
    {
        string dir = Path.Combine(fixture.Root, name);
        Directory.CreateDirectory(dir);
        foreach (string f in Directory.GetFiles(fixture.DatasetDirectory)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), overwrite: true);
        JsonObject meta = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "dataset.json")))!.AsObject();
        meta["datasetId"] = "field-" + name;
        File.WriteAllText(Path.Combine(dir, "dataset.json"), meta.ToJsonString());
        return dir;
    }

    [Fact]
    public void Zero_epochs_from_a_float_graph_reexports_the_same_function_under_onnx_runtime()
    {
        string field = FieldCopy("field-zero");
        string outDir = Path.Combine(fixture.Root, "ft-zero");
        var run = Fixtures.Trainer.Run(field, outDir, seed: 1, "--init-from", fixture.FloatModelPath, "--init-sha256", Sha(fixture.FloatModelPath), "--epochs", "0");
        Assert.True(run.ExitCode == 0, run.Stderr);

        // Real ONNX Runtime on both graphs: the rebuilt torch model (folded form) computes the parent's posteriors.
        var info = DatasetInfo.Load(fixture.DatasetDirectory);
        var test = FeatureSplit.Load(fixture.DatasetDirectory, info, "test");
        float[] parent = WindowScorer.Score(File.ReadAllBytes(fixture.FloatModelPath), test);
        float[] child = WindowScorer.Score(File.ReadAllBytes(Path.Combine(outDir, "model.float.onnx")), test);
        double worst = parent.Zip(child, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"{test.Count} test windows: max |posterior difference| parent vs re-exported {worst:g3}");
        Assert.True(worst <= 1e-4, $"re-exported posteriors differ by {worst}");

        using var m = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "training-manifest.json")));
        JsonElement init = m.RootElement.GetProperty("initFrom");
        Assert.Equal(Sha(fixture.FloatModelPath), init.GetProperty("sha256").GetString());
        Assert.True(init.GetProperty("check").GetProperty("passed").GetBoolean());
        Assert.InRange(init.GetProperty("check").GetProperty("maxAbsPosteriorDifference").GetDouble(), 0, 1e-4);
        Assert.Equal(0.0, m.RootElement.GetProperty("hyperparameters").GetProperty("inputNormalisation").GetProperty("mean").GetDouble());
    }

    /// <summary>conv1's weights as the exported graph holds them (the first Conv's weight initializer).</summary>
    private static float[] Conv1Weights(string onnxPath)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnxPath));
        string name = model.Graph.Node.First(n => n.OpType == "Conv").Input[1];
        return EdgeKws.ModelLoop.Onnx.OnnxTensors.ReadFloats(model.Graph.Initializer.Single(t => t.Name == name));
    }

    private static double RelativeChange(float[] before, float[] after) =>
        before.Zip(after, (a, b) => Math.Abs(a - b)).Average() / before.Average(v => Math.Abs(v));

    [Fact]
    public void Unfolding_the_parents_input_normalisation_is_exact_and_trains_conv1_at_its_trained_scale()
    {
        using var parentManifest = JsonDocument.Parse(File.ReadAllBytes(fixture.TrainingManifestPath));
        JsonElement n = parentManifest.RootElement.GetProperty("hyperparameters").GetProperty("inputNormalisation");
        double mean = n.GetProperty("mean").GetDouble(), std = n.GetProperty("std").GetDouble();
        string normalisation = $"--init-input-normalisation={mean.ToString("R", System.Globalization.CultureInfo.InvariantCulture)},{std.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}";
        string field = FieldCopy("field-unfold");

        // Zero epochs: unfolded and folded back at export, the same function under ONNX Runtime; the manifest carries the parent's
        // normalisation on (what a fine-tune of this fine-tune passes in turn).
        string zero = Path.Combine(fixture.Root, "ft-unfold-zero");
        var run = Fixtures.Trainer.Run(field, zero, seed: 1, "--init-from", fixture.FloatModelPath, normalisation, "--epochs", "0");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var info = DatasetInfo.Load(fixture.DatasetDirectory);
        var test = FeatureSplit.Load(fixture.DatasetDirectory, info, "test");
        double worst = WindowScorer.Score(File.ReadAllBytes(fixture.FloatModelPath), test)
            .Zip(WindowScorer.Score(File.ReadAllBytes(Path.Combine(zero, "model.float.onnx")), test), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4, $"re-exported posteriors differ by {worst}");
        using (var m = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(zero, "training-manifest.json"))))
        {
            JsonElement recorded = m.RootElement.GetProperty("hyperparameters").GetProperty("inputNormalisation");
            Assert.Equal(mean, recorded.GetProperty("mean").GetDouble(), 9);
            Assert.Equal(std, recorded.GetProperty("std").GetDouble(), 9);
        }

        // The same two epochs folded and unfolded: Adam moves each weight by about the learning rate whatever its size, so folded
        // (weights 1/std of their trained size) conv1 changes about std times more, relative to itself, than unfolded.
        string[] common = ["--init-from", fixture.FloatModelPath, "--replay", fixture.DatasetDirectory, "--replay-windows-per-epoch", "50",
            "--epochs", "2", "--max-train", "200", "--lr", "3e-4"];
        string folded = Path.Combine(fixture.Root, "ft-folded"), unfolded = Path.Combine(fixture.Root, "ft-unfolded");
        Assert.Equal(0, Fixtures.Trainer.Run(field, folded, seed: 3, common).ExitCode);
        Assert.Equal(0, Fixtures.Trainer.Run(field, unfolded, seed: 3, [.. common, normalisation]).ExitCode);
        float[] parent = Conv1Weights(fixture.FloatModelPath);
        double foldedChange = RelativeChange(parent, Conv1Weights(Path.Combine(folded, "model.float.onnx")));
        double unfoldedChange = RelativeChange(parent, Conv1Weights(Path.Combine(unfolded, "model.float.onnx")));
        output.WriteLine($"input std {std:0.##}: conv1 relative change folded {foldedChange:P2}, unfolded {unfoldedChange:P3}");
        Assert.True(std > 4, $"the fixture's features need a std well above 1 to show the effect (got {std})");
        Assert.True(foldedChange > unfoldedChange * std / 4, $"folded {foldedChange:P3} vs unfolded {unfoldedChange:P3} (std {std:0.##})");
    }

    [Fact]
    public void A_temporal_parent_is_rebuilt_and_its_per_coefficient_normalisation_unfolded_exactly()
    {
        string parentDir = fixture.TemporalDirectory;
        string parent = Path.Combine(parentDir, "model.float.onnx");
        using var parentManifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(parentDir, "training-manifest.json")));
        JsonElement n = parentManifest.RootElement.GetProperty("hyperparameters").GetProperty("inputNormalisation");
        double[] mean = [.. n.GetProperty("mean").EnumerateArray().Select(e => e.GetDouble())];
        double[] std = [.. n.GetProperty("std").EnumerateArray().Select(e => e.GetDouble())];
        string normalisation = "--init-input-normalisation=" + string.Join(',', mean.Concat(std).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));

        string zero = Path.Combine(fixture.Root, "ft-temporal-zero");
        var run = Fixtures.Trainer.Run(FieldCopy("field-temporal"), zero, seed: 1, "--init-from", parent, normalisation, "--epochs", "0");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var info = DatasetInfo.Load(fixture.DatasetDirectory);
        var test = FeatureSplit.Load(fixture.DatasetDirectory, info, "test");
        double worst = WindowScorer.Score(File.ReadAllBytes(parent), test)
            .Zip(WindowScorer.Score(File.ReadAllBytes(Path.Combine(zero, "model.float.onnx")), test), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1e-4, $"re-exported posteriors differ by {worst}");
        using var m = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(zero, "training-manifest.json")));
        Assert.Equal("temporal", m.RootElement.GetProperty("initFrom").GetProperty("architecture").GetProperty("name").GetString());
        Assert.Equal(mean, m.RootElement.GetProperty("hyperparameters").GetProperty("inputNormalisation").GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()));

        // One mean and std per coefficient cannot be taken out of a conv1 that slides over the coefficients.
        var wrong = Fixtures.Trainer.Run(FieldCopy("field-temporal-wrong"), Path.Combine(fixture.Root, "ft-wrong"), seed: 1,
            "--init-from", fixture.FloatModelPath, normalisation, "--epochs", "0");
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("only the temporal architecture has", wrong.Stderr);
    }

    [Fact]
    public void Fine_tune_with_replay_is_deterministic_and_records_lineage()
    {
        string field = FieldCopy("field-replay");
        string a = Path.Combine(fixture.Root, "ft-replay-a"), b = Path.Combine(fixture.Root, "ft-replay-b");
        string[] args = ["--init-from", fixture.FloatModelPath, "--init-version", "1.0.0", "--replay", fixture.DatasetDirectory,
            "--replay-windows-per-epoch", "50", "--epochs", "2", "--max-train", "200", "--class-weights", "0.75,1.5"];
        var r1 = Fixtures.Trainer.Run(field, a, seed: 3, args);
        var r2 = Fixtures.Trainer.Run(field, b, seed: 3, args);
        Assert.True(r1.ExitCode == 0, r1.Stderr);
        Assert.True(r2.ExitCode == 0, r2.Stderr);
        Assert.Equal(Sha(Path.Combine(a, "model.float.onnx")), Sha(Path.Combine(b, "model.float.onnx")));
        Assert.NotEqual(Sha(fixture.FloatModelPath), Sha(Path.Combine(a, "model.float.onnx")));

        using var m = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(a, "training-manifest.json")));
        JsonElement root = m.RootElement;
        Assert.Equal("1.0.0", root.GetProperty("initFrom").GetProperty("modelVersion").GetString());
        JsonElement replay = root.GetProperty("replay");
        Assert.Equal("test-corpus-seed11", replay.GetProperty("datasetId").GetString());
        output.WriteLine(replay.ToString());
        Assert.True(replay.GetProperty("poolWindows").GetInt32() > 50);
        Assert.Equal(50, replay.GetProperty("windowsPerEpoch").GetInt32());
        Assert.Equal(50, replay.GetProperty("windowsPerEpochByClass").EnumerateArray().Sum(c => c.GetInt32()));
        Assert.True(replay.GetProperty("windowsPerEpochByClass")[1].GetInt32() > 0, "stratified: keyword windows are replayed too");
        Assert.Equal(100, replay.GetProperty("windowsSeen").GetInt32());
        Assert.Equal(["field-field-replay", "test-corpus-seed11"], root.GetProperty("trainedOnDatasetIds").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("[0.75,1.5]", root.GetProperty("hyperparameters").GetProperty("classWeights").ToString().Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal));
        // The parent's architecture, read from the graph.
        using var parent = JsonDocument.Parse(File.ReadAllBytes(fixture.TrainingManifestPath));
        Assert.Equal(parent.RootElement.GetProperty("hyperparameters").GetProperty("channels").GetInt32(), root.GetProperty("hyperparameters").GetProperty("channels").GetInt32());
        Assert.Equal(parent.RootElement.GetProperty("hyperparameters").GetProperty("timeDilations").ToString(), root.GetProperty("hyperparameters").GetProperty("timeDilations").ToString());
    }

    [Fact]
    public void Refuses_float_weights_whose_sha256_is_not_the_expected_one()
    {
        string tampered = Path.Combine(fixture.Root, "tampered.float.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.FloatModelPath));
        TensorProto fc = model.Graph.Initializer.First(t => t.Dims.Count == 2);
        fc.RawData = ByteString.CopyFrom(fc.RawData.ToByteArray().Select((x, i) => i == 0 ? (byte)(x ^ 0x40) : x).ToArray());
        File.WriteAllBytes(tampered, model.ToByteArray());

        var run = Fixtures.Trainer.Run(FieldCopy("field-tampered"), Path.Combine(fixture.Root, "ft-tampered"), seed: 1,
            "--init-from", tampered, "--init-sha256", Sha(fixture.FloatModelPath), "--epochs", "1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("is not the expected", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(fixture.Root, "ft-tampered", "model.float.onnx")));
    }

    [Fact]
    public void Refuses_to_train_when_the_rebuilt_model_does_not_reproduce_the_graph()
    {
        // A graph train.py would not write (the classifier's Gemm scaled by alpha = 2): the rebuilt DS-CNN ignores alpha, the
        // node-by-node evaluation of the graph does not, so the init check must catch the difference.
        string odd = Path.Combine(fixture.Root, "alpha2.float.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture.FloatModelPath));
        NodeProto gemm = model.Graph.Node.Single(n => n.OpType == "Gemm");
        gemm.Attribute.Single(a => a.Name == "alpha").F = 2.0f;
        File.WriteAllBytes(odd, model.ToByteArray());

        var run = Fixtures.Trainer.Run(FieldCopy("field-odd"), Path.Combine(fixture.Root, "ft-odd"), seed: 1, "--init-from", odd, "--epochs", "1");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("refusing to fine-tune", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Committed_default_model_keeps_its_float_weights_with_lineage()
    {
        string dir = Path.Combine(RepositoryRoot.Path, "models", "default");
        string training = Directory.GetFiles(dir, "*.training-manifest.json").Single();
        string floatModel = training.Replace(".training-manifest.json", ".float.onnx", StringComparison.Ordinal);
        using var m = JsonDocument.Parse(File.ReadAllBytes(training));
        Assert.Equal(m.RootElement.GetProperty("onnx").GetProperty("sha256").GetString(), Sha(floatModel));
        Assert.Equal(m.RootElement.GetProperty("onnx").GetProperty("sizeBytes").GetInt64(), new FileInfo(floatModel).Length);
    }
}

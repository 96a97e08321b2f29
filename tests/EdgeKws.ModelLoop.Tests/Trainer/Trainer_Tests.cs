using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Manifests;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelLoop.Tests.Fixtures;

namespace EdgeKws.ModelLoop.Tests.Trainer;

[Collection(TrainedModelCollection.Name)]
public class Trainer_Tests(TrainedModelFixture fixture)
{
    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void Same_seed_gives_byte_identical_onnx_and_another_seed_does_not()
    {
        string again = Path.Combine(fixture.Root, "train-again");
        string other = Path.Combine(fixture.Root, "train-other-seed");
        var r1 = Fixtures.Trainer.Run(fixture.DatasetDirectory, again, seed: 5, TrainedModelFixture.TrainerArguments);
        var r2 = Fixtures.Trainer.Run(fixture.DatasetDirectory, other, seed: 6, TrainedModelFixture.TrainerArguments);
        Assert.True(r1.ExitCode == 0, r1.Stderr);
        Assert.True(r2.ExitCode == 0, r2.Stderr);
        Assert.Equal(Sha(fixture.FloatModelPath), Sha(Path.Combine(again, "model.float.onnx")));
        Assert.NotEqual(Sha(fixture.FloatModelPath), Sha(Path.Combine(other, "model.float.onnx")));
    }

    [Fact]
    public void Training_manifest_records_dataset_features_commit_parameters_and_metrics()
    {
        var m = TrainingManifest.Load(fixture.TrainingManifestPath);
        Assert.Equal("test-corpus-seed11", m.DatasetId);
        Assert.Equal(EdgeKws.Shared.Features.MfccConfig.Default.FeatureConfigHash, m.FeatureConfigHash);
        Assert.Matches("^[0-9a-f]{40}$", m.CodeCommit);
        Assert.Equal(Sha(fixture.FloatModelPath), m.Onnx!.Sha256);
        Assert.Equal([1, 1, 98, 13], m.Onnx.Input!.Shape!);

        using var doc = JsonDocument.Parse(File.ReadAllBytes(fixture.TrainingManifestPath));
        var root = doc.RootElement;
        Assert.Equal(5, root.GetProperty("seed").GetInt32());
        Assert.InRange(root.GetProperty("parameters").GetProperty("inference").GetInt32(), 100, 64 * 1024);
        foreach (string split in new[] { "train", "validation", "test" })
        {
            var s = root.GetProperty("metrics").GetProperty(split);
            Assert.InRange(s.GetProperty("accuracy").GetDouble(), 0.0, 1.0);
        }
        var thresholds = root.GetProperty("metrics").GetProperty("validation").GetProperty("thresholds");
        Assert.Equal(19, thresholds.GetArrayLength());
        Assert.True(thresholds[0].TryGetProperty("frr", out _) && thresholds[0].TryGetProperty("falseAcceptRate", out _));
        // The tiny model must have learned something from real speech: at threshold 0.5 its
        // validation FRR + false-accept rate is below 1, which is where any chance detector sits.
        var at05 = thresholds.EnumerateArray().Single(t => t.GetProperty("threshold").GetDouble() == 0.5);
        double sum = at05.GetProperty("frr").GetDouble() + at05.GetProperty("falseAcceptRate").GetDouble();
        Assert.True(sum < 0.8, $"validation FRR + FAR at 0.5 is {sum}");
    }

    [Fact]
    public void Refuses_a_dataset_of_another_format_version_with_a_clear_error()
    {
        string bad = Path.Combine(fixture.Root, "bad-dataset");
        Directory.CreateDirectory(bad);
        File.WriteAllText(Path.Combine(bad, "dataset.json"), "{\"formatVersion\": \"edgekws-dataset/0\"}");
        var r = Fixtures.Trainer.Run(bad, Path.Combine(fixture.Root, "bad-out"), seed: 1, "--tiny");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("formatVersion is 'edgekws-dataset/0'", r.Stderr);
    }

    // The warp in isolation: train.py's Augmenter on the fixture's feature configuration, a formant-like bump in the log-mel
    // envelope at 1 kHz, its MFCCs warped by alpha. The bump must land at alpha x 1 kHz (within the 40-bin mel grid's
    // interpolation), alpha 1 must return the window unchanged, and C0 (the envelope's mean) must stay.
    private const string WarpProbe = """
        import importlib.util, json, sys, types, numpy as np, torch
        spec = importlib.util.spec_from_file_location("train", sys.argv[1]); t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
        cfg = json.loads(json.load(open(sys.argv[2]))["featureConfig"])
        args = types.SimpleNamespace(max_shift_frames=0, freq_warp=0.0, mix_prob=0, time_mask_frames=0, coeff_mask=0, fill_value=0)
        a = t.Augmenter(cfg, 13, torch.zeros(0, 98, 13), torch.Generator().manual_seed(1), args)
        hz = a.centres_hz.numpy(); mel = 1127 * np.log1p(hz / 700)
        env = torch.tensor(10 * np.exp(-0.5 * ((mel - 1127 * np.log1p(1000 / 700)) / 60) ** 2), dtype=torch.float32).view(1, 1, -1).repeat(1, 98, 1)
        c = a._to_mfcc(env)
        def peak(x):
            e = a._to_logmel(x)[0, 0].numpy(); k = int(np.argmax(e)); k = min(max(k, 1), len(e) - 2)
            d = 0.5 * (e[k - 1] - e[k + 1]) / (e[k - 1] - 2 * e[k] + e[k + 1])      # parabolic peak between bins, in mel
            m = mel[k] + d * (mel[k + 1] - mel[k]); return float(700 * np.expm1(m / 1127))
        out = {"identity": float((a.warp_frequency(c, torch.ones(1)) - c).abs().max()), "peak1": peak(c)}
        for alpha in (0.85, 1.2):
            w = a.warp_frequency(c, torch.tensor([alpha])); out[f"peak{alpha}"] = peak(w); out[f"c0_{alpha}"] = float((w[0, :, 0] - c[0, :, 0]).abs().max())
        print(json.dumps(out))
        """;

    [Fact]
    public void Frequency_warp_moves_a_formant_by_alpha_and_leaves_alpha_1_unchanged()
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Fixtures.Trainer.Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["-c", WarpProbe, Path.Combine(RepositoryRoot.Path, "tools", "train", "train.py"), Path.Combine(fixture.DatasetDirectory, "dataset.json")])
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stderr);
        using var r = JsonDocument.Parse(stdout);
        double Get(string name) => r.RootElement.GetProperty(name).GetDouble();
        Assert.InRange(Get("identity"), 0, 1e-3);
        double p1 = Get("peak1");
        Assert.InRange(p1, 980, 1020);
        Assert.InRange(Get("peak1.2") / p1, 1.17, 1.23);
        Assert.InRange(Get("peak0.85") / p1, 0.82, 0.88);
        // The bump moves within the band, so the envelope's mean (C0) barely changes.
        Assert.InRange(Get("c0_1.2"), 0, 0.5);
    }

    [Fact]
    public void Frequency_warp_is_recorded_in_the_manifest_and_out_of_range_values_are_refused()
    {
        string warped = Path.Combine(fixture.Root, "train-warp");
        var run = Fixtures.Trainer.Run(fixture.DatasetDirectory, warped, seed: 5, [.. TrainedModelFixture.TrainerArguments, "--freq-warp", "0.15"]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var m = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(warped, "training-manifest.json")));
        Assert.Equal(0.15, m.RootElement.GetProperty("hyperparameters").GetProperty("augmentation").GetProperty("frequencyWarp").GetDouble());
        // The warp changes what the model is trained on: not the fixture's bytes.
        Assert.NotEqual(Sha(fixture.FloatModelPath), Sha(Path.Combine(warped, "model.float.onnx")));

        var bad = Fixtures.Trainer.Run(fixture.DatasetDirectory, Path.Combine(fixture.Root, "train-warp-bad"), seed: 5, "--tiny", "--freq-warp", "0.6");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--freq-warp must be in [0, 0.5]", bad.Stderr);
    }

    [Fact]
    public void Temporal_architecture_folds_a_per_coefficient_normalisation_exactly_and_quantizes_like_the_ds_cnn()
    {
        string dir = fixture.TemporalDirectory;
        string manifestPath = Path.Combine(dir, "training-manifest.json");
        using var m = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
        JsonElement h = m.RootElement.GetProperty("hyperparameters");
        Assert.Equal("temporal", h.GetProperty("architecture").GetString());
        Assert.Equal([5, 13], h.GetProperty("conv1").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([2, 1], h.GetProperty("conv1Stride").EnumerateArray().Select(e => e.GetInt32()));
        // One mean and std per coefficient: C0 (log energy band sum) sits on another scale than the others.
        double[] mean = [.. h.GetProperty("inputNormalisation").GetProperty("mean").EnumerateArray().Select(e => e.GetDouble())];
        double[] std = [.. h.GetProperty("inputNormalisation").GetProperty("std").EnumerateArray().Select(e => e.GetDouble())];
        Assert.Equal(13, mean.Length);
        Assert.Equal(13, std.Length);
        Assert.True(std.Max() / std.Min() > 2, $"per-coefficient std {string.Join(", ", std)}");

        // The exported graph has the normalisation folded into conv1: ONNX Runtime on it must classify the validation windows
        // as the trainer's unfolded model did (at most one window may flip on a near tie).
        var info = DatasetInfo.Load(fixture.DatasetDirectory);
        var validation = FeatureSplit.Load(fixture.DatasetDirectory, info, "validation");
        byte[] onnx = File.ReadAllBytes(Path.Combine(dir, "model.float.onnx"));
        double onnxAccuracy = WindowScorer.Accuracy(WindowScorer.Score(onnx, validation), validation.Labels);
        double trainerAccuracy = m.RootElement.GetProperty("metrics").GetProperty("validation").GetProperty("accuracy").GetDouble();
        Assert.InRange(Math.Abs(onnxAccuracy - trainerAccuracy), 0, 1.0 / validation.Count + 1e-9);
        Assert.Equal(["Conv", "Flatten", "Gemm", "GlobalAveragePool", "Relu", "Softmax"],
            m.RootElement.GetProperty("onnx").GetProperty("ops").EnumerateArray().Select(e => e.GetString()));

        // The quantizer and its stated tolerance (docs/model-loop.md) hold for it as for the DS-CNN.
        var report = Int8ModelBuilder.Build(Path.Combine(dir, "model.float.onnx"), manifestPath, fixture.DatasetDirectory, Path.Combine(dir, "int8"),
            new Int8BuildOptions { ModelId = "kws-temporal", ModelVersion = "1.0.0", Method = CalibrationMethod.Percentile, Input = QuantizedInput.Int8, CreatedUtc = DateTimeOffset.UnixEpoch });
        Assert.True(report.ArgMaxAgreement >= 0.97, $"agreement {report.ArgMaxAgreement}");
        Assert.InRange(report.MeanAbsPosteriorDifference, 0.0, 0.03);
    }

    [Fact]
    public void Extra_negatives_join_the_training_pool_and_a_dataset_that_trained_on_a_test_voice_is_refused()
    {
        // A second dataset made from the fixture's: its own id, the same voices in the same splits (as a near-miss family generated
        // with the base corpus's seed is).
        string extra = CopyDataset("extra-same-splits", speakerOf: s => s);
        int background = File.ReadLines(Path.Combine(extra, "train.lineage.jsonl")).Count(l => JsonDocument.Parse(l).RootElement.GetProperty("label").GetInt32() == 0);
        Assert.True(background > 0);
        string trained = Path.Combine(fixture.Root, "train-extra");
        var run = Fixtures.Trainer.Run(fixture.DatasetDirectory, trained, seed: 5, [.. TrainedModelFixture.TrainerArguments, "--extra-negatives", extra]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var m = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(trained, "training-manifest.json")));
        JsonElement record = Assert.Single(m.RootElement.GetProperty("extraNegatives").EnumerateArray());
        Assert.Equal("extra-same-splits", record.GetProperty("datasetId").GetString());
        Assert.Equal(background, record.GetProperty("backgroundWindows").GetInt32());
        Assert.Equal(["test-corpus-seed11", "extra-same-splits"], m.RootElement.GetProperty("trainedOnDatasetIds").EnumerateArray().Select(e => e.GetString()));
        Assert.NotEqual(Sha(fixture.FloatModelPath), Sha(Path.Combine(trained, "model.float.onnx")));

        // The same windows said to come from one of the base's test voices: training on them would make the test measure memorisation.
        string testVoice = JsonDocument.Parse(File.ReadLines(Path.Combine(fixture.DatasetDirectory, "test.lineage.jsonl")).First()).RootElement.GetProperty("speaker").GetString()!;
        string leaky = CopyDataset("extra-leaky", speakerOf: _ => testVoice);
        var refused = Fixtures.Trainer.Run(fixture.DatasetDirectory, Path.Combine(fixture.Root, "train-extra-leaky"), seed: 5, [.. TrainedModelFixture.TrainerArguments, "--extra-negatives", leaky]);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("train speakers are validation or test speakers of --dataset", refused.Stderr);
        Assert.Contains(testVoice, refused.Stderr);
    }

    /// <summary>Copies the fixture's dataset under a new datasetId, mapping every train lineage record's speaker.</summary>
    private string CopyDataset(string datasetId, Func<string, string> speakerOf)
    {
        string dir = Path.Combine(fixture.Root, datasetId);
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.GetFiles(fixture.DatasetDirectory))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        var meta = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "dataset.json")))!;
        meta["datasetId"] = datasetId;
        File.WriteAllText(Path.Combine(dir, "dataset.json"), meta.ToJsonString());
        string lineage = Path.Combine(dir, "train.lineage.jsonl");
        File.WriteAllLines(lineage, File.ReadAllLines(lineage).Select(line =>
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(line)!;
            node["speaker"] = speakerOf(node["speaker"]!.GetValue<string>());
            return node.ToJsonString();
        }));
        return dir;
    }
}

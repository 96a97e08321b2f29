using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.ModelLoop.Manifests;
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
}

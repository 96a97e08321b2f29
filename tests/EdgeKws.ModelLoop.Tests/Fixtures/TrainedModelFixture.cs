using System.Diagnostics;
using EdgeKws.Corpus;

namespace EdgeKws.ModelLoop.Tests.Fixtures;

/// <summary>
/// Generates the small corpus, exports a dataset from it with the device's MFCC code, and trains
/// the tiny DS-CNN once for every test that needs a real trained model.
/// </summary>
public sealed class TrainedModelFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "edgekws-modelloop-tests-" + Guid.NewGuid().ToString("N"));
    public string DatasetDirectory => Path.Combine(Root, "dataset");
    public string TrainedDirectory => Path.Combine(Root, "trained");
    public string FloatModelPath => Path.Combine(TrainedDirectory, "model.float.onnx");
    public string TrainingManifestPath => Path.Combine(TrainedDirectory, "training-manifest.json");
    public TrainerRun TrainRun { get; private set; } = null!;
    private readonly Lazy<string> temporal;

    public TrainedModelFixture() => temporal = new Lazy<string>(TrainTemporal);

    /// <summary>The folder of the same tiny model trained with <c>--architecture temporal</c> (seed 5), trained on first use.</summary>
    public string TemporalDirectory => temporal.Value;

    private string TrainTemporal()
    {
        string dir = Path.Combine(Root, "trained-temporal");
        var run = Trainer.Run(DatasetDirectory, dir, seed: 5, [.. TrainerArguments, "--architecture", "temporal"]);
        if (run.ExitCode != 0) throw new InvalidOperationException($"train.py --architecture temporal failed ({run.ExitCode}): {run.Stderr}");
        return dir;
    }

    /// <summary>--tiny by default; EDGEKWS_MODELLOOP_FULL=1 trains the full-size DS-CNN (docs/model-loop.md figures).</summary>
    public static string[] TrainerArguments =>
        Environment.GetEnvironmentVariable("EDGEKWS_MODELLOOP_FULL") == "1" ? ["--epochs", "20"] : ["--tiny"];

    public async Task InitializeAsync()
    {
        string corpus = Path.Combine(Root, "corpus");
        var manifest = await CorpusGenerator.GenerateAsync(CorpusOptions.Small(corpus, seed: 11));
        CorpusDatasetWriter.Write(corpus, manifest, DatasetDirectory);
        TrainRun = Trainer.Run(DatasetDirectory, TrainedDirectory, seed: 5, TrainerArguments);
        if (TrainRun.ExitCode != 0) throw new InvalidOperationException($"train.py failed ({TrainRun.ExitCode}): {TrainRun.Stderr}");
    }

    public Task DisposeAsync()
    {
        // Set EDGEKWS_KEEP_TEST_OUTPUT=1 to keep the corpus, dataset and models for inspection.
        if (Environment.GetEnvironmentVariable("EDGEKWS_KEEP_TEST_OUTPUT") == "1") return Task.CompletedTask;
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class TrainedModelCollection : ICollectionFixture<TrainedModelFixture>
{
    public const string Name = "trained tiny model";
}

public sealed record TrainerRun(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs tools/train/train.py with Debian's interpreter, as the gateway's training job does.</summary>
public static class Trainer
{
    public const string Python = "/usr/bin/python3";

    public static TrainerRun Run(string dataset, string output, int seed, params string[] extra)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(RepositoryRoot.Path, "tools", "train", "train.py"));
        foreach (string a in (string[])["--dataset", dataset, "--out", output, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new TrainerRun(p.ExitCode, stdout.Result, stderr);
    }
}

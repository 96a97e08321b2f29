using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Corpus;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelTool;

namespace EdgeKws.ModelLoop.Tests.Fixtures;

/// <summary>
/// A small corpus with streams long enough to count events (1 min of negatives, 16 positives), a
/// tiny DS-CNN trained on it, its INT8 build, and one streaming evaluation at the deployed threshold.
/// </summary>
public sealed class StreamingModelFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "edgekws-modeleval-tests-" + Guid.NewGuid().ToString("N"));
    public string CorpusDirectory => Path.Combine(Root, "corpus");
    public string ManifestPath { get; private set; } = "";
    public IReadOnlyList<EvaluationStream> Streams { get; private set; } = [];
    public StreamingEvaluation Baseline { get; private set; } = null!;

    /// <summary>Thresholds the sweep must contain exactly, so tests can compare with the detector at them.</summary>
    public static readonly float[] CheckThresholds = [0.2f, 0.5f, 0.8f, 0.97f];

    public async Task InitializeAsync()
    {
        var manifest = await CorpusGenerator.GenerateAsync(CorpusOptions.Small(CorpusDirectory, seed: 11) with
        {
            NegativeStreamMinutes = 1,
            PositiveStreamKeywords = 16,
        });
        string dataset = Path.Combine(Root, "dataset");
        CorpusDatasetWriter.Write(CorpusDirectory, manifest, dataset);
        string trained = Path.Combine(Root, "trained");
        var run = Trainer.Run(dataset, trained, seed: 5, "--tiny");
        if (run.ExitCode != 0) throw new InvalidOperationException($"train.py failed ({run.ExitCode}): {run.Stderr}");
        var report = Int8ModelBuilder.Build(Path.Combine(trained, "model.float.onnx"), Path.Combine(trained, "training-manifest.json"), dataset,
            Path.Combine(Root, "int8"), new Int8BuildOptions { ModelId = "kws-eval", ModelVersion = "1.0.0", CreatedUtc = DateTimeOffset.UnixEpoch });
        ManifestPath = Path.Combine(Root, "int8", report.ManifestFile);
        Streams = CorpusStreams.Load(CorpusDirectory, out string description);
        Baseline = StreamingEvaluator.Evaluate(ManifestPath, Streams, new StreamingEvaluationOptions { ExtraThresholds = CheckThresholds, EvaluationSet = description });
    }

    /// <summary>A copy of the model's manifest (and model file) with another threshold and version: the same weights deployed differently.</summary>
    public string WithThreshold(float threshold, string version)
    {
        string dir = Path.Combine(Root, "variant-" + version);
        Directory.CreateDirectory(dir);
        var json = JsonNode.Parse(File.ReadAllText(ManifestPath))!.AsObject();
        json["threshold"] = threshold;
        json["modelVersion"] = version;
        string file = json["fileName"]!.GetValue<string>();
        File.Copy(Path.Combine(Path.GetDirectoryName(ManifestPath)!, file), Path.Combine(dir, file), overwrite: true);
        string path = Path.Combine(dir, "manifest.json");
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    public Task DisposeAsync()
    {
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
public sealed class StreamingModelCollection : ICollectionFixture<StreamingModelFixture>
{
    public const string Name = "streaming evaluation of a tiny model";
}

using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EdgeKws.Corpus;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Dataset;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Training;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Dataset;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelTool;
using EdgeKws.Shared.Audio;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeKws.Gateway.Tests.Training;

/// <summary>
/// Inputs of the fine-tune job tests, made once with the existing tools: a small corpus (edgekws-corpus), the base dataset
/// (edgekws-dataset export, speaker-independent splits), the base test streams (edgekws-streams/1), and a field dataset in the
/// gateway export's layout (clips/DEVICE/CLIP.wav + edgekws-dataset/1 features from the labeling library's exporter, the code the
/// gateway's export runs): the validation-split voices play devices; each says "hey edge" three times, and its other phrases
/// (near misses, other keywords) are background; the last take of each phrase (and every other background phrase) is the device's
/// latest slice, held out in the test split. Clips are cut as a device uploads them: 2 s, the speech ending 1.5 s in, with quiet
/// room noise. The base model is trained once from the base dataset (the real trainer) and kept as files to register per test.
/// </summary>
public sealed class FineTuneFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "edgekws-finetune-" + Guid.NewGuid().ToString("N"));
    public string CorpusDirectory => Path.Combine(Root, "corpus");
    /// <summary>Gateway:Labeling:DatasetDirectory and Gateway:Models:ImportDirectory of the test gateways.</summary>
    public string Inputs => Path.Combine(Root, "inputs");
    public const string BaseDataset = "base";
    public const string FieldDataset = "field";
    public const string Streams = "streams.json";
    /// <summary>Streams of other voices (a corpus of another seed) that a fine-tune's threshold is matched on: not the gate's.</summary>
    public const string OperatingPointStreams = "operating-point-streams.json";
    public string BaseModelDirectory => Path.Combine(Root, "base-model");
    public int HeldOutKeywordClips { get; private set; }
    public int HeldOutBackgroundClips { get; private set; }
    public TimeSpan PrepareTime { get; private set; }

    public async Task InitializeAsync()
    {
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(Inputs);
        CorpusManifest corpus = await CorpusGenerator.GenerateAsync(CorpusOptions.Small(CorpusDirectory, seed: 11) with
        {
            SpeakerCount = 16,
            TakesPerKeyword = 3,
            ValidationFraction = 0.35,
            NegativeStreamMinutes = 1,
            PositiveStreamKeywords = 16,
        });
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = DatasetCommand.Run(["export", "--corpus", CorpusDirectory, "--out", Path.Combine(Inputs, BaseDataset), "--keyword", "hey edge"], stdout, stderr);
        if (exit != 0) throw new InvalidOperationException($"edgekws-dataset export failed ({exit}): {stderr}");
        EvaluationSetFile.Write(Path.Combine(Inputs, Streams), CorpusStreams.Load(CorpusDirectory, out string description), description);
        string operatingPointCorpus = Path.Combine(Root, "operating-point-corpus");
        await CorpusGenerator.GenerateAsync(CorpusOptions.Small(operatingPointCorpus, seed: 12) with { NegativeStreamMinutes = 1, PositiveStreamKeywords = 8 });
        EvaluationSetFile.Write(Path.Combine(Inputs, OperatingPointStreams), CorpusStreams.Load(operatingPointCorpus, out string opDescription), opDescription);
        WriteFieldDataset(corpus, Path.Combine(Inputs, FieldDataset));

        // The production model's files: trained from scratch by the real trainer; registered (with its float weights) per test.
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(TestSupport.RepositoryRoot.Path, "tools", "train", "train.py"), "--dataset", Path.Combine(Inputs, BaseDataset),
                     "--out", BaseModelDirectory, "--seed", "5", "--tiny", "--threads", "1" })
        {
            psi.ArgumentList.Add(a);
        }
        using (Process p = Process.Start(psi)!)
        {
            Task<string> err = p.StandardError.ReadToEndAsync();
            await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) throw new InvalidOperationException("train.py failed: " + await err);
        }
        // Import directories as whoever runs the gateway fills them: the INT8 model and its training manifest, with (STEM.float.onnx
        // beside STEM.training-manifest.json, as models/default keeps it) or without the float weights, or with someone else's.
        string prod = Path.Combine(Inputs, "prod");
        var q = Int8ModelBuilder.Build(Path.Combine(BaseModelDirectory, "model.float.onnx"), Path.Combine(BaseModelDirectory, "training-manifest.json"),
            Path.Combine(Inputs, BaseDataset), prod, new Int8BuildOptions { ModelId = "hey-edge", ModelVersion = "1.0.0", CreatedUtc = DateTimeOffset.UnixEpoch });
        ProductionManifest = "prod/" + q.ManifestFile;
        File.Copy(Path.Combine(BaseModelDirectory, "training-manifest.json"), Path.Combine(prod, "hey-edge-1.0.0.training-manifest.json"));
        CopyDirectory(prod, Path.Combine(Inputs, "prod-nofloat"));
        File.Copy(Path.Combine(BaseModelDirectory, "model.float.onnx"), Path.Combine(prod, "hey-edge-1.0.0.float.onnx"));
        CopyDirectory(prod, Path.Combine(Inputs, "prod-tampered"));
        byte[] tampered = File.ReadAllBytes(Path.Combine(prod, "hey-edge-1.0.0.float.onnx"));
        tampered[^5] ^= 0x01; // the last initializer's bytes: still a valid graph, other weights
        File.WriteAllBytes(Path.Combine(Inputs, "prod-tampered", "hey-edge-1.0.0.float.onnx"), tampered);
        // The same weights deployed at a low threshold (it fires on every field clip and on the base streams' negatives).
        string low = Path.Combine(Inputs, "prod-low");
        Int8ModelBuilder.Build(Path.Combine(BaseModelDirectory, "model.float.onnx"), Path.Combine(BaseModelDirectory, "training-manifest.json"),
            Path.Combine(Inputs, BaseDataset), low, new Int8BuildOptions { ModelId = "hey-edge", ModelVersion = "1.0.0", CreatedUtc = DateTimeOffset.UnixEpoch, Threshold = LowThreshold });
        File.Copy(Path.Combine(prod, "hey-edge-1.0.0.training-manifest.json"), Path.Combine(low, "hey-edge-1.0.0.training-manifest.json"));
        File.Copy(Path.Combine(prod, "hey-edge-1.0.0.float.onnx"), Path.Combine(low, "hey-edge-1.0.0.float.onnx"));
        PrepareTime = sw.Elapsed;
    }

    /// <summary>Deployed threshold of the "prod-low" import.</summary>
    public const float LowThreshold = 0.3f;

    /// <summary>The production model's INT8 manifest, named under the import directory (its siblings differ only in the float weights).</summary>
    public string ProductionManifest { get; private set; } = "";

    /// <summary>The same name under another import directory.</summary>
    public static string In(string directory, string name) => directory + "/" + name[(name.IndexOf('/', StringComparison.Ordinal) + 1)..];

    /// <summary>A gateway's model registry and job runner over a fresh SQLite store, with a release key; dispose the store after.</summary>
    public (ModelJobs Jobs, ModelRegistry Registry, IGatewayStore Store) NewGateway(string name)
    {
        string dir = Path.Combine(Root, "gw-" + name);
        Directory.CreateDirectory(dir);
        string key = Path.Combine(dir, "release-key.pem");
        using (var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(key, ecdsa.ExportPkcs8PrivateKeyPem());
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var options = new ModelLoopOptions
        {
            SigningKeyPath = key,
            WorkDirectory = Path.Combine(dir, "jobs"),
            ImportDirectory = Inputs,
            EvaluationSetDirectory = Inputs,
            TrainerScript = Path.Combine(TestSupport.RepositoryRoot.Path, "tools", "train", "train.py"),
        };
        IGatewayStore store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = Path.Combine(dir, "gateway.db") });
        var registry = new ModelRegistry(store, options);
        return (new ModelJobs(registry, options, Inputs, TimeProvider.System, NullLogger<ModelJobs>.Instance), registry, store);
    }

    /// <summary>
    /// A copy of the field dataset whose train split also holds the held-out slice's windows (the mistake the leakage check exists
    /// for), under another name in the inputs directory.
    /// </summary>
    public string WriteLeakyFieldDataset(string name)
    {
        string source = Path.Combine(Inputs, FieldDataset), target = Path.Combine(Inputs, name);
        CopyDirectory(source, target);
        var (x, xs) = ModelLoop.Datasets.NpyFile.ReadFloat32(Path.Combine(source, "train.features.npy"));
        var (y, _) = ModelLoop.Datasets.NpyFile.ReadInt64(Path.Combine(source, "train.labels.npy"));
        var (tx, txs) = ModelLoop.Datasets.NpyFile.ReadFloat32(Path.Combine(source, "test.features.npy"));
        var (ty, _) = ModelLoop.Datasets.NpyFile.ReadInt64(Path.Combine(source, "test.labels.npy"));
        ModelLoop.Datasets.NpyFile.WriteFloat32(Path.Combine(target, "train.features.npy"), [.. x, .. tx], xs[0] + txs[0], xs[1], xs[2]);
        ModelLoop.Datasets.NpyFile.WriteInt64(Path.Combine(target, "train.labels.npy"), [.. y, .. ty], xs[0] + txs[0]);
        File.AppendAllLines(Path.Combine(target, "train.lineage.jsonl"), File.ReadAllLines(Path.Combine(source, "test.lineage.jsonl"))
            .Select(l => l.Replace("\"split\":\"test\"", "\"split\":\"train\"", StringComparison.Ordinal)));
        JsonObject meta = JsonNode.Parse(File.ReadAllText(Path.Combine(target, "dataset.json")))!.AsObject();
        meta["datasetId"] = meta["datasetId"]!.GetValue<string>() + "-leaky";
        meta["splits"]!["train"]!["count"] = xs[0] + txs[0];
        File.WriteAllText(Path.Combine(target, "dataset.json"), meta.ToJsonString());
        return name;
    }

    private void WriteFieldDataset(CorpusManifest corpus, string output)
    {
        var devices = corpus.Speakers.Where(s => s.Split == "validation").Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        if (devices.Count < 3) throw new InvalidOperationException($"only {devices.Count} validation voices");
        var rng = new Random(7);
        var examples = new List<DatasetExample>();
        foreach (IGrouping<(string?, string), CorpusFile> phrase in corpus.Files
                     .Where(f => f.Speaker is { } s && devices.Contains(s) && f.Kind is FileKind.Keyword or FileKind.NearMiss)
                     .OrderBy(f => f.Path, StringComparer.Ordinal)
                     .GroupBy(f => (f.Speaker, f.Transcript)))
        {
            List<CorpusFile> takes = [.. phrase];
            bool keyword = takes[0].KeywordEvents.Any(e => e.Keyword == "hey edge");
            for (int i = 0; i < takes.Count; i++)
            {
                // The latest take of each keyword phrase is held out; background phrases alternate (most have one take).
                bool heldOut = keyword ? i == takes.Count - 1 : (examples.Count % 2 == 1);
                string device = "dev-" + phrase.Key.Item1!.Replace('/', '-');
                string clipId = $"{Path.GetFileNameWithoutExtension(takes[i].Path)}-{i}";
                string wav = Path.Combine(output, "clips", device, clipId + ".wav");
                Directory.CreateDirectory(Path.GetDirectoryName(wav)!);
                WriteDeviceClip(Path.Combine(CorpusDirectory, takes[i].Path), takes[i].SpeechEndMs, wav, rng);
                examples.Add(new DatasetExample($"{device}/{clipId}", heldOut ? "test" : "train", keyword ? "hey edge" : DatasetExporter.BackgroundClass, null,
                    $"{device}/{clipId}", wav, 500, new LabelSource(LabelKinds.Aligner, "test fixture", 1.0)));
                if (heldOut)
                {
                    if (keyword) HeldOutKeywordClips++;
                    else HeldOutBackgroundClips++;
                }
            }
        }
        new DatasetExporter(TimeProvider.System).Export(examples, ["hey edge"], output, [new DatasetSource("gateway", "fine-tune test fixture", "edgekws-gateway")],
            "per device: latest take of each phrase held out (test)");
    }

    /// <summary>A device's trigger clip: 2 s, the speech ending 1.5 s in, over quiet noise (a device never records digital silence).</summary>
    private static void WriteDeviceClip(string source, double? speechEndMs, string target, Random rng)
    {
        float[] take = WavFile.ReadAllMono(source, out WavFormat format);
        int rate = format.SampleRateHz;
        float[] clip = new float[2 * rate];
        int end = (int)((speechEndMs ?? take.Length * 1000.0 / rate) * rate / 1000);
        int offset = (int)(1.5 * rate) - end;
        for (int i = 0; i < clip.Length; i++)
        {
            int j = i - offset;
            float speech = j >= 0 && j < take.Length ? take[j] : 0f;
            clip[i] = speech + (float)((rng.NextDouble() - 0.5) * 0.002);
        }
        WavFile.Write(target, clip, rate, WavSampleFormat.Pcm16);
    }

    private static void CopyDirectory(string source, string target)
    {
        foreach (string dir in Directory.GetDirectories(source, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)), overwrite: true);
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

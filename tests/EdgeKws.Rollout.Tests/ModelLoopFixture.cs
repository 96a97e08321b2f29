using System.Diagnostics;
using EdgeKws.Corpus;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Dataset;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelTool;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;

namespace EdgeKws.Rollout.Tests;

/// <summary>
/// Inputs the existing tools produce, made once per test class: a small generated corpus (edgekws-corpus: 12 voices, 3 takes, 1 min of
/// negative stream, 16 positives), its dataset export (edgekws-dataset export --keyword "hey edge"), its evaluation streams as an
/// <c>edgekws-streams/1</c> file, the agents' microphone audio (the corpus's "hey edge" takes, 1 s apart, over and over) and
/// the agents' canaries (those takes and quiet noise through the device's own MFCC front end).
/// </summary>
public sealed class ModelLoopFixture : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();

    public string Root => _dir.Path;
    public string CorpusDirectory => Path.Combine(Root, "corpus");
    public string DatasetDirectory => Path.Combine(Root, "dataset");
    public string StreamsFile => Path.Combine(Root, "streams.json");
    public string AgentWav => Path.Combine(Root, "agent-mic.wav");
    public string PositiveCanary => Path.Combine(Root, ModelCanary.PositiveFileName);
    public string NegativeCanary => Path.Combine(Root, ModelCanary.NegativeFileName);
    public TimeSpan PrepareTime { get; private set; }

    public async Task InitializeAsync()
    {
        var sw = Stopwatch.StartNew();
        // Small, with more voices and takes than the preset so the tiny model learns the keyword well enough for the canary.
        CorpusManifest corpus = await CorpusGenerator.GenerateAsync(CorpusOptions.Small(CorpusDirectory, seed: 11) with
        {
            SpeakerCount = 12,
            TakesPerKeyword = 3,
            NegativeStreamMinutes = 1,
            PositiveStreamKeywords = 16,
        });
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = DatasetCommand.Run(["export", "--corpus", CorpusDirectory, "--out", DatasetDirectory, "--keyword", "hey edge"], stdout, stderr);
        if (exit != 0) throw new InvalidOperationException($"edgekws-dataset export failed ({exit}): {stderr}");
        EvaluationSetFile.Write(StreamsFile, CorpusStreams.Load(CorpusDirectory, out string description), description);

        // Every "hey edge" take of the corpus (keyword files), 1 s of silence after each.
        var takes = corpus.Files.Where(f => f.Kind == FileKind.Keyword && f.KeywordEvents.Any(e => e.Keyword == "hey edge"))
            .OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => Read(Path.Combine(CorpusDirectory, f.Path))).ToList();
        if (takes.Count < 4) throw new InvalidOperationException($"the corpus has only {takes.Count} 'hey edge' takes");
        var mic = new List<float>();
        while (mic.Count < 16000 * 240)
        {
            foreach (float[] t in takes)
            {
                mic.AddRange(t);
                mic.AddRange(new float[16000]);
            }
        }
        WavFile.Write(AgentWav, mic.ToArray(), 16000, WavSampleFormat.Pcm16);

        var rng = new Random(3);
        float[] quiet = Enumerable.Range(0, 16000 * 3).Select(_ => (float)((rng.NextDouble() - 0.5) * 0.002)).ToArray();
        WriteCanary(PositiveCanary, [.. takes.Take(6).SelectMany(t => t.Concat(new float[8000]))]);
        WriteCanary(NegativeCanary, quiet);
        PrepareTime = sw.Elapsed;
    }

    /// <summary>Copies the canaries into an agent's state directory (they ship with the agent, not with updates).</summary>
    public void InstallCanaries(string stateDirectory)
    {
        string dir = Path.Combine(stateDirectory, "canary");
        Directory.CreateDirectory(dir);
        File.Copy(PositiveCanary, Path.Combine(dir, ModelCanary.PositiveFileName), overwrite: true);
        File.Copy(NegativeCanary, Path.Combine(dir, ModelCanary.NegativeFileName), overwrite: true);
    }

    private static float[] Read(string wav)
    {
        using var source = new AudioFileSource(wav, 16000);
        var samples = new List<float>();
        var block = new float[4096];
        int n;
        while ((n = source.Read(block)) > 0) samples.AddRange(block.AsSpan(0, n).ToArray());
        return [.. samples];
    }

    private static void WriteCanary(string path, float[] audio)
    {
        MfccConfig mfcc = MfccConfig.Default;
        var extractor = new MfccExtractor(mfcc);
        var rows = new float[(extractor.FramesForNextPush(audio.Length) + 1) * mfcc.CoefficientCount];
        int frames = extractor.Push(audio, rows);
        ModelCanary.Write(path, rows.AsSpan(0, frames * mfcc.CoefficientCount), mfcc.CoefficientCount, mfcc.FeatureConfigHash);
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Training;
using EdgeKws.ModelLoop.Evaluation;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Training;

/// <summary>
/// The gateway's FineTune model job with real parts: registry over SQLite with a release key, the real trainer (train.py
/// --init-from the registered float weights, --replay of the base dataset), INT8 quantization, the device detector over the base
/// streams and over each held-out field clip, the gate, the registry's lineage. docs/model-loop.md "Fine-tuning from production".
/// </summary>
public sealed class FineTuneJob_Tests(FineTuneFixture f, ITestOutputHelper output) : IClassFixture<FineTuneFixture>
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(10); // liveness only

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private async Task<ModelJob> RunAsync(ModelJobs jobs, ModelJobRequest request)
    {
        ModelJob job = await jobs.WaitAsync(jobs.Submit(request).Id, JobTimeout);
        foreach (string s in job.Steps) output.WriteLine($"  {request.ModelVersion} {s}");
        if (job.Error is not null) output.WriteLine($"  {request.ModelVersion} error: {job.Error}");
        if (job.Model is { } m) output.WriteLine($"  {request.ModelVersion} {m.Stage}: {m.GateSummary}");
        return job;
    }

    private Task<ModelJob> BootstrapAsync(ModelJobs jobs, string importDirectory = "prod") => RunAsync(jobs, new ModelJobRequest
    {
        Kind = ModelJobKind.Register,
        ModelVersion = "1.0.0",
        Manifest = FineTuneFixture.In(importDirectory, f.ProductionManifest),
        TrainingManifest = importDirectory + "/hey-edge-1.0.0.training-manifest.json",
        EvaluationSet = FineTuneFixture.Streams,
        Bootstrap = true,
    });

    /// <summary>
    /// A fine-tune of the tiny model: 8 epochs at 3e-3, 400 replayed base windows per epoch. Tuned on the field's voices the tiny
    /// model's keyword posteriors rise everywhere, so it ships at 0.75 unless the request says otherwise (or names an operating-point
    /// set): the gate judges the deployed point, whatever threshold the request names.
    /// </summary>
    private static ModelJobRequest FineTune(string version, string dataset = FineTuneFixture.FieldDataset) => new()
    {
        Kind = ModelJobKind.FineTune,
        ModelVersion = version,
        Dataset = dataset,
        ReplayDataset = FineTuneFixture.BaseDataset,
        ReplayWindowsPerEpoch = 400,
        EvaluationSet = FineTuneFixture.Streams,
        Tiny = true,
        Epochs = 8,
        LearningRate = 3e-3,
        Seed = 1,
        Threshold = 0.75f,
    };

    private static GateCheck Check(RegisteredModel m, string name) =>
        m.Gate!.Value.Deserialize(EvaluationJsonContext.Default.GateReport)!.Checks.Single(c => c.Name == name);

    [Fact]
    public async Task Fine_tune_starts_from_the_registered_float_weights_and_a_candidate_no_better_on_the_slice_is_refused_with_the_reason()
    {
        output.WriteLine($"fixture: {f.PrepareTime.TotalSeconds:0.0} s; held-out slice {f.HeldOutKeywordClips} keyword + {f.HeldOutBackgroundClips} background clips");
        (ModelJobs jobs, ModelRegistry registry, IGatewayStore store) = f.NewGateway("good");
        using IGatewayStore owner = store;
        ModelJob bootstrap = await BootstrapAsync(jobs);
        RegisteredModel production = bootstrap.Model!;
        // Bootstrap kept the float weights found beside the training manifest, tied to it by SHA-256.
        string floatFile = Path.Combine(f.Inputs, "prod", "hey-edge-1.0.0.float.onnx");
        Assert.Equal(Sha(floatFile), production.FloatWeights!.Sha256);
        Assert.Equal(production.TrainingManifest.GetProperty("onnx").GetProperty("sha256").GetString(), production.FloatWeights.Sha256);
        Assert.True(store.TryGetModelFloatWeights("1.0.0", out byte[]? stored));
        Assert.Equal(File.ReadAllBytes(floatFile), stored);

        ModelJob job = await RunAsync(jobs, FineTune("1.1.0"));
        Assert.True(job.State == ModelJobState.Succeeded, job.Error);
        RegisteredModel m = job.Model!;

        // It started from the registered weights: the trainer's lineage and its init check.
        using JsonDocument training = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(job.WorkDirectory, "trained", "training-manifest.json")));
        JsonElement init = training.RootElement.GetProperty("initFrom");
        Assert.Equal(production.FloatWeights.Sha256, init.GetProperty("sha256").GetString());
        Assert.Equal("1.0.0", init.GetProperty("modelVersion").GetString());
        Assert.True(init.GetProperty("check").GetProperty("passed").GetBoolean());
        Assert.InRange(init.GetProperty("check").GetProperty("maxAbsPosteriorDifference").GetDouble(), 0, 1e-4);
        // ... with conv1 at the scale it was trained at: the parent's input normalisation taken back out (and recorded for the next one).
        JsonElement parentNorm = production.TrainingManifest.GetProperty("hyperparameters").GetProperty("inputNormalisation");
        JsonElement norm = training.RootElement.GetProperty("hyperparameters").GetProperty("inputNormalisation");
        Assert.True(parentNorm.GetProperty("std").GetDouble() > 1, "the tiny parent's features have a real std");
        Assert.Equal(parentNorm.GetProperty("mean").GetDouble(), norm.GetProperty("mean").GetDouble(), 9);
        Assert.Equal(parentNorm.GetProperty("std").GetDouble(), norm.GetProperty("std").GetDouble(), 9);
        // ... with the parent's loss balance, so the parent's operating point keeps its meaning.
        Assert.Equal(production.TrainingManifest.GetProperty("hyperparameters").GetProperty("classWeights").ToString(),
            training.RootElement.GetProperty("hyperparameters").GetProperty("classWeights").ToString());

        // Registered with lineage, its own float weights kept (it can be fine-tuned in turn), the parent's detector settings.
        Assert.Equal(new FineTuneLineage("1.0.0", production.FloatWeights.Sha256, m.FineTune!.FieldDatasetId, m.FineTune.ReplayDatasetId, m.FineTune.FieldSlice, m.FineTune.Leakage), m.FineTune);
        Assert.Equal(JsonDocument.Parse(File.ReadAllBytes(Path.Combine(f.Inputs, FineTuneFixture.FieldDataset, "dataset.json"))).RootElement.GetProperty("datasetId").GetString(), m.FineTune.FieldDatasetId);
        Assert.Equal(JsonDocument.Parse(File.ReadAllBytes(Path.Combine(f.Inputs, FineTuneFixture.BaseDataset, "dataset.json"))).RootElement.GetProperty("datasetId").GetString(), m.FineTune.ReplayDatasetId);
        Assert.Equal(Sha(Path.Combine(job.WorkDirectory, "trained", "model.float.onnx")), m.FloatWeights!.Sha256);
        Assert.Equal("1.0.0", m.ParentVersion);
        Assert.Equal(0.75f, m.Threshold);

        // The verdict, each rule with its reason. Trained in the unfolded form (conv1 at its trained scale), this tiny fine-tune
        // changes little: at 0.75 it misses the same 6 held-out keyword clips and fires on none, so the base gate passes (0 vs 0
        // false accepts) and the slice rule refuses it as not better: a fine-tune that changes nothing the fleet heard is not
        // rolled out. (The trainer is deterministic: same fixture, seed and code, same verdict.)
        GateReport gate = m.Gate!.Value.Deserialize(EvaluationJsonContext.Default.GateReport)!;
        GateCheck slice = Check(m, FieldSliceGate.CheckName);
        GateCheck leakage = Check(m, FieldSliceLeakage.CheckName);
        output.WriteLine($"slice: {slice.Detail}\nleakage: {leakage.Detail}");
        Assert.True(leakage.Passed, leakage.Detail);
        Assert.False(gate.Promote);
        Assert.Equal(ModelStage.Refused, m.Stage);
        Assert.StartsWith("not better", slice.Detail, StringComparison.Ordinal);
        Assert.Equal("REFUSE: " + FieldSliceGate.CheckName + " (" + slice.Detail + ")", m.GateSummary);   // the only reason: the base gate passed
    }

    [Fact]
    public async Task With_an_operating_point_set_the_candidate_false_accepts_there_no_more_than_its_parent()
    {
        (ModelJobs jobs, _, IGatewayStore store) = f.NewGateway("operating-point");
        using IGatewayStore owner = store;
        RegisteredModel production = (await BootstrapAsync(jobs)).Model!;
        ModelJob job = await RunAsync(jobs, FineTune("1.1.0") with { Threshold = null, OperatingPointSet = FineTuneFixture.OperatingPointStreams });
        Assert.True(job.State == ModelJobState.Succeeded, job.Error);
        RegisteredModel m = job.Model!;

        using JsonDocument point = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(job.WorkDirectory, "operating-point.json")));
        JsonElement p = point.RootElement;
        output.WriteLine(p.ToString());
        long parentFa = p.GetProperty("ParentFalseAccepts").GetInt64();
        long atParent = p.GetProperty("CandidateFalseAcceptsAtParentThreshold").GetInt64();
        Assert.Contains(job.Steps, s => s.StartsWith("operating point", StringComparison.Ordinal));
        Assert.Equal(production.Threshold, p.GetProperty("ParentThreshold").GetSingle());
        Assert.Equal(m.Threshold, p.GetProperty("Threshold").GetSingle());   // what the registry signed is what was chosen
        Assert.True(p.GetProperty("NegativeHours").GetDouble() > 0);
        Assert.Contains("seed 12", p.GetProperty("EvaluationSet").GetString(), StringComparison.Ordinal);   // the operating-point streams, not the gate's
        Assert.True(p.GetProperty("CandidateFalseAccepts").GetInt64() <= parentFa, p.ToString());
        // This tiny fine-tune's keyword posteriors rise everywhere (see FineTune above): at the parent's threshold it false-accepts
        // more on voices it never heard, so its threshold is raised above the parent's; the gate then judges it there.
        Assert.True(atParent > parentFa, "the scenario needs a candidate that false-accepts more at the parent's threshold: " + p);
        Assert.True(m.Threshold > production.Threshold, $"{m.Threshold} vs parent {production.Threshold}");
    }

    [Fact]
    public async Task Refuses_a_candidate_better_on_the_slice_that_regresses_on_the_base_test_set()
    {
        (ModelJobs jobs, _, IGatewayStore store) = f.NewGateway("regress");
        using IGatewayStore owner = store;
        // Production deployed at 0.3: it fires on every held-out background clip. A fine-tune at 1e-2 for 10 epochs, shipped at 0.6,
        // fires on fewer of them and misses no more keywords (better on the slice), but its posteriors on the base streams'
        // negative audio rose: more false accepts there than production's plus the margin.
        await BootstrapAsync(jobs, "prod-low");
        ModelJob job = await RunAsync(jobs, FineTune("1.1.0") with { Epochs = 10, LearningRate = 1e-2, Threshold = 0.6f });
        Assert.True(job.State == ModelJobState.Succeeded, job.Error);
        RegisteredModel m = job.Model!;
        GateCheck slice = Check(m, FieldSliceGate.CheckName);
        Assert.True(slice.Passed, "the scenario needs a candidate better on the slice: " + slice.Detail);
        Assert.StartsWith("better", slice.Detail, StringComparison.Ordinal);
        Assert.Equal(ModelStage.Refused, m.Stage);
        Assert.StartsWith("REFUSE: base test set: REFUSE:", m.GateSummary, StringComparison.Ordinal);
        Assert.Contains("deployed FA/hour", m.GateSummary, StringComparison.Ordinal);
        Assert.DoesNotContain(FieldSliceGate.CheckName, m.GateSummary, StringComparison.Ordinal); // passed: not a reason
    }

    [Fact]
    public async Task Refuses_a_candidate_trained_on_the_held_out_slice()
    {
        (ModelJobs jobs, _, IGatewayStore store) = f.NewGateway("leak");
        using IGatewayStore owner = store;
        await BootstrapAsync(jobs);
        string leaky = f.WriteLeakyFieldDataset("field-leaky");
        ModelJob job = await RunAsync(jobs, FineTune("1.1.0", leaky));
        Assert.True(job.State == ModelJobState.Succeeded, job.Error);
        RegisteredModel m = job.Model!;
        GateCheck leakage = Check(m, FieldSliceLeakage.CheckName);
        Assert.False(leakage.Passed);
        Assert.Contains($"holds {f.HeldOutKeywordClips + f.HeldOutBackgroundClips} held-out clip(s)", leakage.Detail, StringComparison.Ordinal);
        Assert.Contains("exactly the features of held-out windows", leakage.Detail, StringComparison.Ordinal);
        Assert.Equal(ModelStage.Refused, m.Stage);
        Assert.Contains(FieldSliceLeakage.CheckName + " (leakage:", m.GateSummary, StringComparison.Ordinal);
    }

    [Fact]
    public void Held_out_clips_uploaded_as_features_only_are_counted_not_replayed()
    {
        string copy = Path.Combine(f.Root, "field-features-only");
        foreach (string file in Directory.GetFiles(Path.Combine(f.Inputs, FineTuneFixture.FieldDataset), "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(copy, Path.GetRelativePath(Path.Combine(f.Inputs, FineTuneFixture.FieldDataset), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        string firstHeldOut = JsonDocument.Parse(File.ReadLines(Path.Combine(copy, "test.lineage.jsonl")).First()).RootElement.GetProperty("clipId").GetString()!;
        File.Delete(Path.Combine(copy, "clips", firstHeldOut + ".wav")); // a device without audio consent uploads MFCCs only
        FieldSlice slice = FieldSlice.Load(copy);
        Assert.Equal(1, slice.FeatureOnlyClips);
        Assert.Equal(f.HeldOutKeywordClips + f.HeldOutBackgroundClips - 1, slice.Clips.Count);
        Assert.DoesNotContain(slice.Clips, c => c.Recording == firstHeldOut);
    }

    [Fact]
    public void Refuses_fine_tune_requests_naming_paths_or_fields_of_other_kinds_before_any_work()
    {
        (ModelJobs jobs, _, IGatewayStore store) = f.NewGateway("requests");
        using IGatewayStore owner = store;
        string Refusal(ModelJobRequest r) => Assert.Throws<ArgumentException>(() => jobs.Submit(r)).Message;
        Assert.Contains("replayDataset", Refusal(FineTune("1.1.0") with { ReplayDataset = "../base" }), StringComparison.Ordinal);
        Assert.Contains("replayDataset", Refusal(FineTune("1.1.0") with { ReplayDataset = "/etc" }), StringComparison.Ordinal);
        Assert.Contains("replayDataset 'prod' is not an exported dataset", Refusal(FineTune("1.1.0") with { ReplayDataset = "prod" }), StringComparison.Ordinal);
        Assert.Contains("floatModel belongs to Register jobs", Refusal(FineTune("1.1.0") with { FloatModel = "prod/hey-edge-1.0.0.float.onnx" }), StringComparison.Ordinal);
        Assert.Contains("belong to FineTune jobs", Refusal(FineTune("1.1.0") with { Kind = ModelJobKind.Train }), StringComparison.Ordinal);
        Assert.Contains("replayWindowsPerEpoch needs replayDataset", Refusal(FineTune("1.1.0") with { ReplayDataset = null }), StringComparison.Ordinal);
        Assert.Contains("bootstrap does not apply", Refusal(FineTune("1.1.0") with { Bootstrap = true }), StringComparison.Ordinal);
        Assert.Contains("operatingPointSet must not be the evaluationSet", Refusal(FineTune("1.1.0") with { Threshold = null, OperatingPointSet = FineTuneFixture.Streams }), StringComparison.Ordinal);
        Assert.Contains("operatingPointSet", Refusal(FineTune("1.1.0") with { Threshold = null, OperatingPointSet = "../streams.json" }), StringComparison.Ordinal);
        Assert.Contains("threshold and operatingPointSet exclude each other", Refusal(FineTune("1.1.0") with { OperatingPointSet = FineTuneFixture.OperatingPointStreams }), StringComparison.Ordinal);
        File.Copy(Path.Combine(f.Inputs, FineTuneFixture.Streams), Path.Combine(f.Inputs, "streams-copy.json"), overwrite: true);
        Assert.Contains("operatingPointSet must not be the evaluationSet", Refusal(FineTune("1.1.0") with { Threshold = null, OperatingPointSet = "streams-copy.json" }), StringComparison.Ordinal);
        Assert.Contains("learningRate", Refusal(FineTune("1.1.0") with { LearningRate = 2 }), StringComparison.Ordinal);
        Assert.Empty(jobs.List());
    }

    [Fact]
    public async Task Refuses_tampered_float_weights_at_registration_and_a_fine_tune_of_a_model_without_float_weights()
    {
        (ModelJobs jobs, _, IGatewayStore store) = f.NewGateway("tampered");
        using (store)
        {
            ModelJob tampered = await BootstrapAsync(jobs, "prod-tampered");
            Assert.Equal(ModelJobState.Failed, tampered.State);
            Assert.Contains("not this model's weights (or tampered)", tampered.Error, StringComparison.Ordinal);
            Assert.Empty(store.ReadRegisteredModels());
        }

        (jobs, _, store) = f.NewGateway("nofloat");
        using (store)
        {
            ModelJob registered = await BootstrapAsync(jobs, "prod-nofloat");
            Assert.Equal(ModelJobState.Succeeded, registered.State);
            Assert.Null(registered.Model!.FloatWeights);
            ModelJob job = await RunAsync(jobs, FineTune("1.1.0"));
            Assert.Equal(ModelJobState.Failed, job.State);
            Assert.Contains("was registered without float weights: it cannot be fine-tuned", job.Error, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(job.WorkDirectory, "trained", "model.float.onnx")));
        }
    }
}

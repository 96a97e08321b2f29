using System.Text.Json;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Labeling;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Storage;
using EdgeKws.Gateway.Training;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeKws.Gateway.Tests.Training;

/// <summary>
/// The automatic fine-tune policy (<see cref="AutoFineTunePolicy"/>, <see cref="AutoFineTuneLoop"/>) over a real SQLite store and a real
/// PostgreSQL server (the store theories run on both, as the store contract tests do): device
/// clips ingested through the store's batch and labelled by the worker's store paths, a production model in the registry, the real
/// field export and the real job runner (<see cref="ModelJobs.Submit"/>, what <c>POST /api/model-jobs</c> calls).
/// </summary>
[Collection("postgres")]
public sealed class AutoFineTune_Tests(PostgresFixture postgres) : IDisposable
{
    private const string Keyword = "hey edge";
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private static readonly string Hash = MfccConfig.Default.FeatureConfigHash;
    private static readonly LabelProvenance Aligner = new(LabelProvenanceKinds.Aligner, "aligner test", 0.9, null);

    private readonly TempDirectory _dir = new();
    private readonly ManualClock _clock = new(T0);
    private readonly Dictionary<string, long> _seq = new(StringComparer.Ordinal);
    private StoreOptions? _options;
    private IGatewayStore? _opened;
    private int _clips;

    private IGatewayStore Store => _opened ?? throw new InvalidOperationException("call Open(provider) first");

    public void Dispose()
    {
        _opened?.Dispose();
        _dir.Dispose();
    }

    /// <summary>Opens the test's store: "sqlite" (a file) or "postgres" (a fresh database on the shared server).</summary>
    private void Open(string provider)
    {
        _options = postgres.StoreOptions(provider, _dir);
        _opened = GatewayStores.Open(_options);
    }

    /// <summary>A gateway restart as far as the store is concerned: this instance closed, a new one over the same database.</summary>
    private void Reopen()
    {
        _opened!.Dispose();
        _opened = GatewayStores.Open(_options!);
    }

    private static AutoFineTuneOptions Policy(int clips = 4, double hours = 2) => new()
    {
        Enabled = true,
        MinNewLabelledClips = clips,
        MinOldestAge = TimeSpan.FromHours(hours),
        EvaluationSet = "streams.json",
        ReplayDataset = "base",
        Epochs = 3,
        Tiny = true,
    };

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Decides_start_exactly_when_the_count_and_the_age_thresholds_are_crossed(string provider)
    {
        Open(provider);
        AddProduction(T0);
        // Before the production model: never counted. Waiting for review: never counted.
        Label(Add("dev-a", trigger: true), DetectionLabelKind.TrueAccept, T0.AddMinutes(-5));
        Label(Add("dev-a", trigger: true), DetectionLabelKind.Unknown, T0.AddMinutes(5));
        // Three decided labels after it: two triggers, one near miss; the oldest at T0 + 10 min.
        Label(Add("dev-a", trigger: true), DetectionLabelKind.TrueAccept, T0.AddMinutes(10));
        Label(Add("dev-b", trigger: true), DetectionLabelKind.FalseAccept, T0.AddMinutes(20));
        Label(Add("dev-b", trigger: false), DetectionLabelKind.TrueAccept, T0.AddMinutes(30));

        LabelBacklog backlog = LabelBacklog.Read(Store, T0, "production 1.0.0 registered");
        Assert.Equal((3, T0.AddMinutes(10)), (backlog.Count, backlog.OldestUtc!.Value));
        DateTimeOffset oldEnough = T0.AddMinutes(10) + TimeSpan.FromHours(2);

        // N - 1 clips (N = 4), old enough: wait, saying why.
        AutoFineTuneDecision d = AutoFineTunePolicy.Decide(Policy(), backlog, null, oldEnough);
        Assert.False(d.Start);
        Assert.StartsWith("wait: too few new labels: 3 decided labels since production 1.0.0 registered (need 4)", d.Reason, StringComparison.Ordinal);

        // N clips: start at exactly the age threshold, wait one tick below it.
        Label(Add("dev-b", trigger: false), DetectionLabelKind.FalseAccept, T0.AddMinutes(40));
        backlog = LabelBacklog.Read(Store, T0, "production 1.0.0 registered");
        Assert.Equal(4, backlog.Count);
        d = AutoFineTunePolicy.Decide(Policy(), backlog, null, oldEnough - TimeSpan.FromTicks(1));
        Assert.False(d.Start);
        Assert.StartsWith("wait: the new labels are too recent", d.Reason, StringComparison.Ordinal);
        d = AutoFineTunePolicy.Decide(Policy(), backlog, null, oldEnough);
        Assert.True(d.Start, d.Reason);
        Assert.Equal((4, TimeSpan.FromHours(2)), (d.NewClips, d.OldestAge!.Value));
        Assert.StartsWith("start: 4 decided labels", d.Reason, StringComparison.Ordinal);

        // A job queued or running holds the start back; no production model: nothing to fine-tune.
        d = AutoFineTunePolicy.Decide(Policy(), backlog, "job-1", oldEnough);
        Assert.False(d.Start);
        Assert.StartsWith("wait: model job job-1 is queued or running", d.Reason, StringComparison.Ordinal);
        Assert.False(AutoFineTunePolicy.Decide(Policy(), null, null, oldEnough).Start);
        // Counting from a later point (the last fine-tune job) leaves out what that job already had.
        Assert.Equal(1, LabelBacklog.Read(Store, T0.AddMinutes(30), "fine-tune job x").Count);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task The_loop_exports_and_submits_exactly_one_fine_tune_when_crossing_and_none_while_a_job_runs(string provider)
    {
        Open(provider);
        AddProduction(T0);
        (AutoFineTuneLoop loop, ModelJobs jobs, string datasets) = NewLoop(Policy(clips: 4, hours: 1), trainerSleepSeconds: 4);

        // Three labels: wait (nothing submitted, nothing exported).
        for (int i = 0; i < 3; i++) Label(Add(i % 2 == 0 ? "dev-a" : "dev-b", trigger: i != 1), i == 2 ? DetectionLabelKind.FalseAccept : DetectionLabelKind.TrueAccept, T0.AddMinutes(10 + i));
        _clock.Advance(TimeSpan.FromHours(2));
        Assert.False(loop.Tick().Start);
        Assert.Empty(jobs.List());
        Assert.Empty(Directory.EnumerateDirectories(datasets, "auto-ft-*"));

        // The fourth crosses the count, but a job (a Train job, the trainer sleeping) is running: wait.
        Label(Add("dev-b", trigger: true), DetectionLabelKind.FalseAccept, T0.AddMinutes(20));
        ModelJob running = jobs.Submit(new ModelJobRequest { Kind = ModelJobKind.Train, ModelVersion = "busy", Dataset = "manual", EvaluationSet = "streams.json" });
        AutoFineTuneDecision d = loop.Tick();
        Assert.False(d.Start, $"{d.Reason}; busy job: {jobs.List().Single().State} {jobs.List().Single().Error}");
        Assert.Contains($"model job {running.Id} is queued or running", d.Reason, StringComparison.Ordinal);
        Assert.Single(jobs.List());
        Assert.Equal(ModelJobState.Failed, (await jobs.WaitAsync(running.Id, TimeSpan.FromSeconds(60))).State);

        // Now it starts: one FineTune job, on a time-split export of the store's decided clips, through the job runner's own checks.
        _clock.Advance(TimeSpan.FromMinutes(1));
        d = loop.Tick();
        Assert.True(d.Start, d.Reason);
        AutoFineTuneStatus status = loop.Status;
        Assert.NotNull(status.LastJobId);
        Assert.True(jobs.TryGet(status.LastJobId!, out ModelJob? job));
        Assert.Equal((ModelJobKind.FineTune, status.LastDataset, "streams.json", "base", 3, true), (job!.Request.Kind, job.Request.Dataset, job.Request.EvaluationSet,
            job.Request.ReplayDataset, job.Request.Epochs, job.Request.Tiny));
        Assert.StartsWith("1.0.0+auto-ft.", job.Request.ModelVersion, StringComparison.Ordinal);
        using (JsonDocument meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(datasets, status.LastDataset!, "dataset.json"))))
        {
            Assert.StartsWith("time per device", meta.RootElement.GetProperty("splitRule").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal((4, null), (status.ClipsSinceLastModel, status.LastError));
        // The job ran the real fine-tune steps: it got past the field slice to the parent's float weights (this production model has none).
        ModelJob done = await jobs.WaitAsync(job.Id, TimeSpan.FromSeconds(60));
        Assert.Equal(ModelJobState.Failed, done.State);
        Assert.Contains("float weights", done.Error, StringComparison.OrdinalIgnoreCase);
        // The start is in the audit log.
        AuditRecord audit = Assert.Single(Store.ReadAudit(null, 10));
        Assert.Equal((AutoFineTuneLoop.Actor, "POLICY", 202), (audit.Entry.Actor, audit.Entry.Method, audit.Entry.Status));
        Assert.Contains(job.Id, audit.Entry.Arguments, StringComparison.Ordinal);

        // The same labels do not start another job: counting restarts from that job; three more wait, the fourth (old enough) starts the next.
        _clock.Advance(TimeSpan.FromHours(3));
        d = loop.Tick();
        Assert.False(d.Start);
        Assert.StartsWith($"wait: too few new labels: 0 decided labels since fine-tune job {job.Id}", d.Reason, StringComparison.Ordinal);
        DateTimeOffset now = _clock.GetUtcNow();
        for (int i = 0; i < 3; i++) Label(Add("dev-a", trigger: true), DetectionLabelKind.TrueAccept, now.AddMinutes(-90 + i));
        Assert.False(loop.Tick().Start);
        Label(Add("dev-b", trigger: true), DetectionLabelKind.TrueAccept, now.AddMinutes(-80));
        Assert.True(loop.Tick().Start);
        Assert.Equal(2, jobs.List().Count(j => j.Request.Kind == ModelJobKind.FineTune));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_restarted_gateway_counts_from_the_last_fine_tune_job_not_from_the_production_model(string provider)
    {
        Open(provider);
        AddProduction(T0);
        for (int i = 0; i < 4; i++) Label(Add(i % 2 == 0 ? "dev-a" : "dev-b", trigger: true), DetectionLabelKind.TrueAccept, T0.AddMinutes(10 + i));
        _clock.Advance(TimeSpan.FromHours(2));
        (AutoFineTuneLoop loop, ModelJobs jobs, _) = NewLoop(Policy(clips: 4, hours: 1), trainerSleepSeconds: 0);
        Assert.True(loop.Tick().Start);
        string jobId = loop.Status.LastJobId!;
        await jobs.WaitAsync(jobId, TimeSpan.FromSeconds(60)); // the job is done with the store before it closes
        Assert.True(Store.TryGetModelLoopBaseline(out ModelLoopBaseline? written));
        Assert.Equal($"fine-tune job {jobId}", written!.Since);

        // Restart: a new store instance over the same database, a new registry, job runner (its in-memory job list empty) and loop.
        Reopen();
        _clock.Advance(TimeSpan.FromMinutes(15));
        (AutoFineTuneLoop restarted, ModelJobs fresh, _) = NewLoop(Policy(clips: 4, hours: 1), trainerSleepSeconds: 0);
        Assert.Empty(fresh.List());
        AutoFineTuneDecision d = restarted.Tick();
        Assert.False(d.Start, d.Reason);
        // Counting from production 1.0.0 again would give 4 and start a second job on the same labels.
        Assert.StartsWith($"wait: too few new labels: 0 decided labels since fine-tune job {jobId} (need 4)", d.Reason, StringComparison.Ordinal);
        Assert.Equal((0, $"fine-tune job {jobId}"), (restarted.Status.ClipsSinceLastModel, restarted.Status.Since));

        // New labels after that job count, and after one more restart the count is the same.
        Label(Add("dev-a", trigger: false), DetectionLabelKind.TrueAccept, _clock.GetUtcNow().AddMinutes(-1));
        Assert.Equal(1, restarted.Tick().NewClips);
        Reopen();
        (AutoFineTuneLoop again, _, _) = NewLoop(Policy(clips: 4, hours: 1), trainerSleepSeconds: 0);
        Assert.Equal(1, again.Tick().NewClips);
    }

    [Fact]
    public void Options_are_validated_with_errors_naming_the_setting()
    {
        new AutoFineTuneOptions().Validate(); // off by default, nothing required
        Assert.False(new ModelLoopOptions().AutoFineTune.Enabled);
        Assert.Contains("EvaluationSet is required", Refused(o => o.Enabled = true), StringComparison.Ordinal);
        Assert.Contains("Gateway:Models:AutoFineTune:MinNewLabelledClips must be at least 1, got 0", Refused(o => o.MinNewLabelledClips = 0), StringComparison.Ordinal);
        Assert.Contains("Gateway:Models:AutoFineTune:MinOldestAge must not be negative", Refused(o => o.MinOldestAge = TimeSpan.FromHours(-1)), StringComparison.Ordinal);
        Assert.Contains("Gateway:Models:AutoFineTune:PollInterval must be positive", Refused(o => o.PollInterval = TimeSpan.Zero), StringComparison.Ordinal);
        Assert.Contains("Gateway:Models:AutoFineTune:Epochs must be in 1..", Refused(o => o.Epochs = 0), StringComparison.Ordinal);
        Assert.Contains("Gateway:Models:AutoFineTune:Keyword", Refused(o => o.Keyword = " "), StringComparison.Ordinal);
        Assert.Contains("Gateway:Models:AutoFineTune:ReplayDataset", Refused(o => o.ReplayDataset = ""), StringComparison.Ordinal);
        // Through the gateway's options, as at start-up.
        var gateway = new ModelLoopOptions { AutoFineTune = new AutoFineTuneOptions { MinNewLabelledClips = -3 } };
        Assert.Contains("MinNewLabelledClips", Assert.Throws<ArgumentException>(gateway.Validate).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_policy_status_is_served_to_viewers_with_its_thresholds_and_a_bad_setting_stops_start_up()
    {
        await using (var g = await Api.WebGateway.StartAsync([], "--Gateway:Models:AutoFineTune:MinNewLabelledClips=7", "--Gateway:Models:AutoFineTune:MinOldestAge=06:00:00"))
        {
            using HttpClient viewer = g.ClientFor("loop-viewer", EdgeKws.Gateway.Security.ApiRole.Viewer);
            using JsonDocument doc = JsonDocument.Parse(await viewer.GetStringAsync(new Uri("/api/model-loop/policy", UriKind.Relative)));
            JsonElement s = doc.RootElement;
            Assert.Equal((false, 7, 6.0, 0), (s.GetProperty("enabled").GetBoolean(), s.GetProperty("minNewLabelledClips").GetInt32(),
                s.GetProperty("minOldestAgeHours").GetDouble(), s.GetProperty("clipsSinceLastModel").GetInt32()));
            Assert.Equal(JsonValueKind.Null, s.GetProperty("lastDecision").ValueKind);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await g.Anonymous.GetAsync(new Uri("/api/model-loop/policy", UriKind.Relative))).StatusCode);
        }
        var refused = Assert.Throws<ArgumentException>(() => EdgeKws.Gateway.Api.GatewayWebHost.Build(["--Gateway:Models:AutoFineTune:Enabled=true"]));
        Assert.Contains("Gateway:Models:AutoFineTune:EvaluationSet is required", refused.Message, StringComparison.Ordinal);
    }

    private static string Refused(Action<AutoFineTuneOptions> change)
    {
        var o = new AutoFineTuneOptions();
        change(o);
        return Assert.Throws<ArgumentException>(o.Validate).Message;
    }

    private (AutoFineTuneLoop Loop, ModelJobs Jobs, string Datasets) NewLoop(AutoFineTuneOptions policy, int trainerSleepSeconds)
    {
        string datasets = _dir.File("datasets"), imports = _dir.File("imports");
        Directory.CreateDirectory(Path.Combine(datasets, "manual"));
        File.WriteAllText(Path.Combine(datasets, "manual", "dataset.json"), "{}");
        Directory.CreateDirectory(Path.Combine(imports, "base"));
        File.WriteAllText(Path.Combine(imports, "base", "dataset.json"), "{}");
        File.WriteAllText(Path.Combine(imports, "streams.json"), "{}");
        // A trainer that takes a while and fails: the Train job stays Running long enough to be seen.
        string trainer = Path.Combine(imports, "slow-trainer.sh");
        File.WriteAllText(trainer, $"sleep {trainerSleepSeconds}\nexit 3\n");
        var options = new ModelLoopOptions
        {
            WorkDirectory = _dir.File("jobs"),
            ImportDirectory = imports,
            EvaluationSetDirectory = imports,
            Python = "/bin/sh",
            TrainerScript = trainer,
            AutoFineTune = policy,
        };
        var registry = new ModelRegistry(Store, options);
        var jobs = new ModelJobs(registry, options, datasets, _clock, NullLogger<ModelJobs>.Instance);
        return (new AutoFineTuneLoop(Store, registry, jobs, policy, datasets, _clock, NullLogger<AutoFineTuneLoop>.Instance), jobs, datasets);
    }

    private void AddProduction(DateTimeOffset registeredUtc)
    {
        JsonElement empty = JsonDocument.Parse("{}").RootElement.Clone();
        var model = new RegisteredModel("hey-edge", "1.0.0", null, "base", Hash, null, null, "hey-edge-1.0.0.int8.onnx", new string('b', 64), 100, 0.8f, "0123456789abcdef",
            0.5, 0.05, 0.2, "streams", true, "bootstrap", null, empty, empty, null, ModelStage.Production, registeredUtc, registeredUtc);
        Assert.True(Store.TryAddRegisteredModel(model, new ModelPackage("{\"modelVersion\":\"1.0.0\"}"u8.ToArray(), new byte[64], new byte[100]), out string why), why);
    }

    /// <summary>A trigger (or near miss) report with a 2 s audio clip, ingested through the store's batch; returns (device, sequence, trigger).</summary>
    private (string Device, long Seq, bool Trigger, Guid Clip) Add(string device, bool trigger)
    {
        long seq = _seq.GetValueOrDefault(device) + 1;
        _seq[device] = seq + 1;
        int n = ++_clips;
        var id = Guid.NewGuid();
        DateTimeOffset captured = T0.AddMinutes(-60).AddSeconds(n * 60);
        byte[] report = trigger
            ? WireJson.Serialize(new DetectionReport
            {
                DeviceId = device,
                DeviceTimeUtc = captured,
                StreamOffsetMs = n * 60_000L,
                Score = 0.9f,
                Keyword = Keyword,
                ModelVersion = "1.0.0",
                FeatureConfigHash = Hash,
                ClipId = id,
            })
            : WireJson.Serialize(new NearMissReport
            {
                DeviceId = device,
                DeviceTimeUtc = captured,
                StreamOffsetMs = n * 60_000L,
                Score = 0.6f,
                Threshold = 0.8f,
                BandFloor = 0.4f,
                ModelVersion = "1.0.0",
                FeatureConfigHash = Hash,
                ClipId = id,
            });
        short[] audio = Tone(300 + (20 * n), n);
        byte[] clip = new byte[ClipAudio.GetFrameSizeBytes(audio.Length)];
        ClipAudio.Write(clip, id, captured, 16_000, Convert.FromHexString(Hash), consentGranted: true, audio);
        StoreWrite[] writes =
        [
            GatewayStoreNearMiss_Tests.Valid(device, trigger ? MessageKind.Detection : MessageKind.NearMiss, report, seq, captured.AddSeconds(5), Hash),
            GatewayStoreNearMiss_Tests.Valid(device, MessageKind.ClipAudio, clip, seq + 1, captured.AddSeconds(5), Hash),
        ];
        var results = new IngestResult[writes.Length];
        Store.WriteBatch(writes, results);
        Assert.All(results, x => Assert.True(x.Outcome == IngestOutcome.Stored, x.Reason));
        return (device, seq, trigger, id);
    }

    private void Label((string Device, long Seq, bool Trigger, Guid Clip) c, DetectionLabelKind label, DateTimeOffset at)
    {
        string? reason = label == DetectionLabelKind.Unknown ? "confidence between the bounds" : null;
        Assert.Null(c.Trigger
            ? Store.WriteAutomaticLabel(new DetectionLabel(c.Device, c.Seq, label, "aligner:" + Aligner.Tool, at), Aligner, reason, DetectionLabelKind.Unknown, c.Clip.ToString("D"))
            : Store.WriteNearMissLabel(c.Device, c.Seq, label, Aligner, reason, DetectionLabelKind.Unknown, at));
    }

    private static short[] Tone(double hz, int seed)
    {
        var rng = new Random(seed);
        var pcm = new short[32_000];
        for (int i = 0; i < pcm.Length; i++)
        {
            double envelope = i is > 8_000 and < 24_000 ? 1.0 : 0.1;
            pcm[i] = (short)((Math.Sin(2 * Math.PI * hz * i / 16_000) * 6000 * envelope) + ((rng.NextDouble() - 0.5) * 400));
        }
        return pcm;
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private long _ticks = start.UtcTicks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.MainJob;

/// <summary>
/// The whole loop on the embedded defaults: generated audio per device, the gateway as a real
/// process (embedded MQTT broker, SQLite, HTTP API and dashboard on 127.0.0.1), one real agent process
/// per device replaying its WAV faster than real time, labels from forced alignment, FA/hour and drift
/// from the gateway, the model push, and a summary. Every child is stopped on success, failure and
/// Ctrl-C. With <c>--days N</c> (default 2) the same devices then hear new utterances on each later day with whatever model
/// the rollout left on them, and the loop stage scores production and the new model on the last day's audio.
/// </summary>
internal sealed class MainJob(MainJobOptions options, RepoLayout repo, TextWriter output)
{
    /// <summary>
    /// Stages of a run: day 1's six (audio, gateway, agents, labels, metrics, model push), four per later day (audio, agents,
    /// labels, metrics), a model push after every later day but the last, the loop (two days or more) and the summary.
    /// </summary>
    public static int StageCount(int days) => 6 + (4 * (days - 1)) + Math.Max(0, days - 2) + (days > 1 ? 1 : 0) + 1;
    private const string Marker = ".edgekws-main-job";
    private const int HeartbeatSeconds = 15;

    private readonly List<ChildProcess> _children = [];
    private readonly MainJobSummary _summary = new();
    private readonly Progress _progress = new(output, StageCount(options.Days));
    private readonly int _summaryStage = StageCount(options.Days);
    private ChildProcess? _gateway;
    private string _outDir = "";

    public MainJobSummary Summary => _summary;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        _outDir = Path.GetFullPath(options.OutputDirectory);
        PrepareOutputDirectory(_outDir);
        _summary.StartedUtc = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        _summary.Devices = options.Devices;
        _summary.HoursPerDevice = options.HoursPerDevice;
        _summary.Days = options.Days;
        _summary.ModelStage = options.ModelStage;
        _summary.OutputDirectory = _outDir;
        _summary.Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, load {LoadAverage()}";
        (string manifest, string version) = repo.DefaultModel();
        _summary.ModelManifest = Path.GetRelativePath(repo.Root, manifest);
        _summary.ModelVersion = version;
        output.WriteLine($"EdgeKws main job: {options.Devices} devices x {options.HoursPerDevice.ToString("0.###", CultureInfo.InvariantCulture)} h of audio" +
            $"{(options.Days > 1 ? $" x {options.Days} days" : "")}, model {version} ({_summary.ModelManifest}), output {_outDir}");

        int rc = 1;
        try
        {
            _rollout = new ModelRolloutStage(repo, _outDir, _progress, _summary, options.QuickModel, options.ModelStage);
            IReadOnlyList<DeviceRecording> recordings = await _progress.StageAsync(1, "audio", () => GenerateAudioAsync(1, ct)).ConfigureAwait(false);
            using GatewayClient gateway = await _progress.StageAsync(2, "gateway", () => StartGatewayAsync(recordings, manifest, ct)).ConfigureAwait(false);
            await _progress.StageAsync(3, "agents", () => RunAgentsAsync(recordings, _agentModel ?? manifest, gateway, ct)).ConfigureAwait(false);
            await _progress.StageAsync(4, "labels", () => LabelAsync(recordings, gateway, ct)).ConfigureAwait(false);
            await _progress.StageAsync(5, "metrics", () => MetricsAsync(recordings, gateway, ct)).ConfigureAwait(false);
            int stage = 6;
            await ModelStageAsync(stage, "model push", 1, recordings, gateway, ct).ConfigureAwait(false);

            // Later days: the same devices (voices, rooms, noise) hear new utterances with whatever model the rollout left on them.
            IReadOnlyList<DeviceRecording> today = recordings;
            for (int day = 2; day <= options.Days; day++)
            {
                int d = day;
                string prefix = $"day {d} ";
                today = await _progress.StageAsync(++stage, prefix + "audio", () => GenerateAudioAsync(d, ct)).ConfigureAwait(false);
                IReadOnlyList<DeviceRecording> heard = today;
                var dayRun = new DayRun { Day = d, AudioHours = Math.Round(heard.Sum(r => r.DurationSeconds) / 3600, 4), Keywords = heard.Sum(r => r.Keywords.Count) };
                _summary.LaterDays.Add(dayRun);
                await _progress.StageAsync(++stage, prefix + "agents", () => RunLaterDayAgentsAsync(heard, dayRun, _agentModel ?? manifest, gateway, ct)).ConfigureAwait(false);
                await _progress.StageAsync(++stage, prefix + "labels", () => LabelLaterDayAsync(heard, dayRun, gateway, ct)).ConfigureAwait(false);
                await _progress.StageAsync(++stage, prefix + "metrics", () => LaterDayMetricsAsync(dayRun, gateway, ct)).ConfigureAwait(false);
                if (d < options.Days)
                {
                    await ModelStageAsync(++stage, prefix + "model push", d, heard, gateway, ct).ConfigureAwait(false);
                }
            }
            if (options.Days > 1)
            {
                IReadOnlyList<DeviceRecording> lastDay = today;
                await _progress.StageAsync(++stage, "loop", () => LoopAsync(lastDay, manifest, ct)).ConfigureAwait(false);
            }
            _summary.Succeeded = true;
            rc = 0;

            if (options.KeepRunning)
            {
                _summary.GatewayKeptRunning = true;
                await _progress.StageAsync(_summaryStage, "summary", () => WriteSummaryAsync(ct)).ConfigureAwait(false);
                output.WriteLine($"Gateway left running: dashboard {_summary.DashboardUrl}, log in with the operator token in {_summary.TokenFile} (Ctrl-C stops it).");
                try
                {
                    await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    output.WriteLine("Stopping the gateway.");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _summary.Failure = "interrupted";
            output.WriteLine("Interrupted: stopping every process.");
            rc = 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or HttpRequestException or JsonException or ArgumentException
                                       or UnauthorizedAccessException or TimeoutException or SQLite.SQLiteException
                                       or KeyNotFoundException or FormatException)
        {
            _summary.Failure = ex.Message;
            output.WriteLine("main job failed: " + ex.Message);
            rc = 1;
        }
        finally
        {
            await StopChildrenAsync().ConfigureAwait(false);
        }

        _summary.GatewayKeptRunning = false;
        _summary.WallSeconds = Math.Round(_progress.Elapsed.TotalSeconds, 1);
        _summary.Processes = [.. _children.Select(c => new ChildRecord(c.Name, c.Id, c.HasExited, c.HasExited ? c.ExitCode : null))];
        _summary.Stages = _progress.Stages;
        if (!options.KeepRunning || rc != 0)
        {
            await _progress.StageAsync(_summaryStage, "summary", () => WriteSummaryAsync(CancellationToken.None)).ConfigureAwait(false);
        }
        else
        {
            await WriteSummaryFilesAsync(CancellationToken.None).ConfigureAwait(false);
        }
        foreach (ChildProcess c in _children)
        {
            c.Dispose();
        }
        return rc;
    }

    // ---- 1. audio --------------------------------------------------------------------------------------------------

    private async Task<(IReadOnlyList<DeviceRecording>, string)> GenerateAudioAsync(int day, CancellationToken ct)
    {
        var recordings = new List<DeviceRecording>();
        for (int i = 0; i < options.Devices; i++)
        {
            string id = DeviceId(i);
            string dir = day <= 1 ? Path.Combine(_outDir, "audio", id) : Path.Combine(_outDir, "audio", $"day{day}", id);
            Directory.CreateDirectory(dir);
            DeviceRecording r = await DeviceAudio.GenerateAsync(id, i, options.HoursPerDevice, options.Seed, dir, ct, day).ConfigureAwait(false);
            recordings.Add(r);
            _progress.Detail(string.Create(CultureInfo.InvariantCulture,
                $"{id}: {r.DurationSeconds:F0} s, {r.Keywords.Count} x \"hey edge\" by {r.Speaker}, {r.Room.Name}; negatives: {string.Join(", ", r.NegativeSegments.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Value} {k.Key}"))}"));
        }
        double hours = recordings.Sum(r => r.DurationSeconds) / 3600;
        if (day <= 1)
        {
            _summary.AudioHours = Math.Round(hours, 4);
        }
        string newUtterances = day <= 1 ? "" : $" (day {day}: the same voices and rooms, new utterances)";
        return (recordings, string.Create(CultureInfo.InvariantCulture,
            $"{recordings.Count} devices, {hours * 60:F1} min of audio, {recordings.Sum(r => r.Keywords.Count)} keywords at known times{newUtterances}"));
    }

    // ---- 2. gateway ------------------------------------------------------------------------------------------------

    private async Task<(GatewayClient, string)> StartGatewayAsync(IReadOnlyList<DeviceRecording> recordings, string bundledManifest, CancellationToken ct)
    {
        string gwDir = Path.Combine(_outDir, "gateway");
        Directory.CreateDirectory(gwDir);
        string db = Path.Combine(gwDir, "gateway.db");
        _summary.GatewayDatabase = db;
        int brokerPort = FreePort();
        int httpPort = options.HttpPort ?? (IsFree(8080) ? 8080 : 0);
        string[] settings =
        [
            $"--Gateway:Store:DatabasePath={db}",
            $"--Gateway:Broker:BindAddress=127.0.0.1",
            $"--Gateway:Broker:Port={brokerPort}",
            $"--Gateway:Http:BindAddress=127.0.0.1",
            $"--Gateway:Http:Port={httpPort}",
            // Alert rules every 5 s instead of 30 s, so the dashboard's alerts reflect a run of minutes.
            "--Gateway:Monitoring:EvaluationInterval=00:00:05",
            // The gateway labels trigger clips itself (PocketSphinx), looking for new clips every 2 s.
            "--Gateway:Labeling:Enabled=true",
            // The agent's detections carry no keyword text (the bundled model has one keyword), so the phrase is set here.
            $"--Gateway:Labeling:WakePhrase={Labeler.WakePhrase}",
            "--Gateway:Labeling:Interval=00:00:02",
            // The calibrated labeler (docs/labeling.md "Calibrated labels") when its calibration is bundled, with the verifier
            // it was fitted with: every signal, labels decided only above the 0.98 precision targets, the rest to review.
            .. repo.LabelCalibration is { } calibration ? [$"--Gateway:Labeling:CalibrationPath={calibration}"] : Array.Empty<string>(),
            .. repo.LabelCalibration is not null && repo.VerifierManifest is { } verifier ? [$"--Gateway:Labeling:VerifierModelPath={verifier}"] : Array.Empty<string>(),
            $"--Gateway:Labeling:DatasetDirectory={Path.Combine(gwDir, "datasets")}",
            // The host's appsettings.json sits beside its dll, not in its working directory: keep request logs out of gateway.log.
            "--Logging:LogLevel:Default=Information",
            "--Logging:LogLevel:Microsoft.AspNetCore=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
            .. _rollout!.GatewaySettings(),
        ];

        // Provision every device with its own random credential (the gateway's `device add`).
        foreach (DeviceRecording r in recordings)
        {
            string password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
            (int code, string text) = await ChildProcess.RunToEndAsync(repo.GatewayDll, ["device", "add", r.DeviceId, settings[0]], gwDir, password, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
            if (code != 0)
            {
                throw new InvalidOperationException($"device add {r.DeviceId} failed ({code}): {text.Trim()}");
            }
            _passwords[r.DeviceId] = password;
        }

        // An operator API token for this run (the gateway's `token create`, which prints it once): the job's API calls send it, and
        // it logs in to the dashboard. Kept in a 0600 file beside the database.
        (int tokenCode, string tokenText) = await ChildProcess.RunToEndAsync(repo.GatewayDll, ["token", "create", "--name", "main-job", "--role", "operator", settings[0]],
            gwDir, null, TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
        string? token = tokenText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault(l => l.StartsWith("ekws_", StringComparison.Ordinal));
        if (tokenCode != 0 || token is null)
        {
            throw new InvalidOperationException($"token create failed ({tokenCode}): {tokenText.Trim()}");
        }
        string tokenFile = Path.Combine(gwDir, "operator.token");
        var secret = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            secret.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using (var w = new StreamWriter(tokenFile, secret))
        {
            await w.WriteLineAsync(token).ConfigureAwait(false);
        }
        _summary.TokenFile = tokenFile;

        _gateway = ChildProcess.Start("gateway", repo.GatewayDll, settings, gwDir, Path.Combine(gwDir, "gateway.log"));
        _children.Add(_gateway);
        string? ready = await _gateway.WaitForLineAsync("gateway: ready", TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
        if (ready is null)
        {
            throw new InvalidOperationException($"the gateway did not report ready (exited: {_gateway.HasExited}); see {Path.Combine(gwDir, "gateway.log")}");
        }
        string httpLine = _gateway.Lines().First(l => l.StartsWith("gateway: http ", StringComparison.Ordinal));
        var baseUri = new Uri(httpLine["gateway: http ".Length..].Trim());
        _brokerPort = brokerPort;
        _summary.DashboardUrl = baseUri.ToString();
        var client = new GatewayClient(baseUri, token);
        _progress.Detail($"dashboard: open {baseUri} and log in with the operator token in {Path.GetRelativePath(_outDir, tokenFile)}: {token}");
        JsonElement health = await client.GetAsync("healthz", ct).ConfigureAwait(false);

        // With the model publisher: the bundled model is registered and signed, and every device is
        // provisioned for signed updates (seed package, pinned key, canaries) before its agent starts.
        _publisherMissing = await _rollout.ProbeAsync(client, ct).ConfigureAwait(false);
        if (_publisherMissing is null)
        {
            _agentModel = await _rollout.PrepareDevicesAsync(recordings, bundledManifest,
                recordings.ToDictionary(r => r.DeviceId, r => StateDirectory(r.DeviceId), StringComparer.Ordinal), client, ct).ConfigureAwait(false);
        }
        return (client, $"pid {_gateway.Id}, MQTT 127.0.0.1:{brokerPort}, dashboard {baseUri}, SQLite {Path.GetRelativePath(_outDir, db)}, " +
            $"{recordings.Count} devices provisioned, health {health.GetProperty("status").GetString()}");
    }

    private readonly Dictionary<string, string> _passwords = new(StringComparer.Ordinal);
    private int _brokerPort;
    private ModelRolloutStage? _rollout;
    private string? _publisherMissing = "not probed";
    private string? _agentModel;
    private readonly List<Task> _feeders = [];

    private string StateDirectory(string deviceId) => Path.Combine(_outDir, "devices", deviceId, "state");

    /// <summary>An agent listening live: raw PCM on stdin, paced at real time by a feeder task (stage 6).</summary>
    private ChildProcess StartLiveAgent(DeviceRecording r, CancellationToken ct)
    {
        string dir = Path.Combine(_outDir, "devices", r.DeviceId);
        ChildProcess agent = ChildProcess.Start(r.DeviceId + "-live", repo.AgentDll,
            ["--config", Path.Combine(dir, "agent.json"), "--stdin", "--model", _agentModel!, "--drain-seconds", "30"],
            dir, Path.Combine(dir, r.Day <= 1 ? "agent-live.log" : $"agent-live-day{r.Day}.log"), redirectStdin: true);
        _children.Add(agent);
        _feeders.Add(Task.Run(() => ModelRolloutStage.FeedRealTimeAsync(agent, r.WavPath, ct), CancellationToken.None));
        return agent;
    }

    // ---- 3. agents -------------------------------------------------------------------------------------------------

    private async Task<(bool, string)> RunAgentsAsync(IReadOnlyList<DeviceRecording> recordings, string modelManifest, GatewayClient gateway, CancellationToken ct)
    {
        long sent = await ReplayAsync(recordings, modelManifest, _summary.DeviceRuns, ct).ConfigureAwait(false);
        _summary.MessagesSentByAgents = sent;

        // Every PUBACK is sent after the gateway's commit, so drained outboxes mean stored messages; the
        // ledger count confirms it (it also holds nothing else: presence messages carry no sequence).
        JsonElement health = await gateway.GetAsync("healthz", ct).ConfigureAwait(false);
        _summary.GatewayMessages = health.GetProperty("messages").GetInt64();
        _summary.GatewayQuarantined = health.GetProperty("quarantined").GetInt64();
        JsonElement detections = await gateway.GetAsync("api/detections?window=24h&limit=10000", ct).ConfigureAwait(false);
        _summary.Detections = detections.GetArrayLength();
        if (_summary.GatewayMessages < sent)
        {
            throw new InvalidOperationException($"agents report {sent} messages acknowledged but the gateway holds {_summary.GatewayMessages}");
        }
        return (true, $"{recordings.Count} agents replayed {_summary.AudioHours * 60:F1} min; {sent} messages acknowledged, gateway holds {_summary.GatewayMessages} " +
            $"({_summary.GatewayQuarantined} quarantined), {_summary.Detections} detections");
    }

    /// <summary>
    /// One agent process per device replaying its WAV with <c>--fast</c>; waits for each to exit drained and records its
    /// summary line in <paramref name="runs"/>. Returns the messages the agents saw acknowledged.
    /// </summary>
    private async Task<long> ReplayAsync(IReadOnlyList<DeviceRecording> recordings, string modelManifest, List<DeviceRun> runs, CancellationToken ct)
    {
        var agents = new List<(DeviceRecording Recording, ChildProcess Process)>();
        foreach (DeviceRecording r in recordings)
        {
            string dir = Path.Combine(_outDir, "devices", r.DeviceId);
            string config = WriteAgentConfig(r, dir);
            // The model argument only seeds empty slots: once the slots hold a model (day 1 on), they decide what runs.
            ChildProcess agent = ChildProcess.Start(r.Day <= 1 ? r.DeviceId : $"{r.DeviceId}-day{r.Day}", repo.AgentDll,
                ["--config", config, "--wav", r.WavPath, "--fast", "--model", modelManifest, "--drain-seconds", "120"],
                dir, Path.Combine(dir, r.Day <= 1 ? "agent.log" : $"agent-day{r.Day}.log"));
            _children.Add(agent);
            agents.Add((r, agent));
        }
        _progress.Detail($"{agents.Count} agents started (pids {string.Join(", ", agents.Select(a => a.Process.Id))}), replaying with --fast and raw-audio consent");

        long sent = 0;
        foreach ((DeviceRecording r, ChildProcess agent) in agents)
        {
            // Replay is faster than real time; the budget covers a slow, shared machine and the outbox drain.
            TimeSpan budget = TimeSpan.FromSeconds(300 + (r.DurationSeconds / 2));
            if (!await agent.WaitForExitAsync(budget, ct).ConfigureAwait(false))
            {
                throw new TimeoutException($"{agent.Name} did not finish its replay within {budget.TotalSeconds:F0} s; see its agent log");
            }
            string? line = agent.Lines().LastOrDefault(l => l.StartsWith("summary:", StringComparison.Ordinal));
            Dictionary<string, string> fields = ParseSummary(line);
            runs.Add(new DeviceRun
            {
                DeviceId = r.DeviceId,
                Speaker = r.Speaker,
                Room = r.Room.Name,
                AudioSeconds = Math.Round(r.DurationSeconds, 1),
                KeywordsInAudio = r.Keywords.Count,
                NegativeSegments = new Dictionary<string, int>(r.NegativeSegments),
                ExitCode = agent.ExitCode,
                AgentSummary = fields,
            });
            if (agent.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException($"{agent.Name} exited with {agent.ExitCode} {(line is null ? "without a summary line" : "")}; see its log in {Path.Combine(_outDir, "devices", r.DeviceId)}");
            }
            if (fields.GetValueOrDefault("outbox_depth") != "0")
            {
                throw new InvalidOperationException($"{agent.Name} stopped with {fields.GetValueOrDefault("outbox_depth")} messages still in its outbox (not drained within 120 s)");
            }
            sent += long.Parse(fields.GetValueOrDefault("sent", "0"), CultureInfo.InvariantCulture);
            _progress.Detail($"{agent.Name}: {fields.GetValueOrDefault("audio_s")} s audio in {fields.GetValueOrDefault("elapsed_s")} s ({fields.GetValueOrDefault("speed")}), " +
                $"model {fields.GetValueOrDefault("model")}, {fields.GetValueOrDefault("detections")} detections, {fields.GetValueOrDefault("clips_audio")} audio clips, " +
                $"{fields.GetValueOrDefault("heartbeats")} heartbeats, {fields.GetValueOrDefault("sketches")} sketches, sent {fields.GetValueOrDefault("sent")}, outbox drained");
        }
        return sent;
    }

    // ---- later days --------------------------------------------------------------------------------------------------

    /// <summary>Each device's last detection sequence before the day's agents start: the day's detections lie above it.</summary>
    private Dictionary<string, long> _dayStart = new(StringComparer.Ordinal);

    /// <summary>Each device's last near-miss sequence before the day's agents start: the day's near misses lie above it.</summary>
    private Dictionary<string, long> _nearMissDayStart = new(StringComparer.Ordinal);

    private async Task<(bool, string)> RunLaterDayAgentsAsync(IReadOnlyList<DeviceRecording> recordings, DayRun dayRun, string modelManifest, GatewayClient gateway, CancellationToken ct)
    {
        using (var db = new GatewayDatabase(_summary.GatewayDatabase))
        {
            _dayStart = db.LastDetectionSequences();
            _nearMissDayStart = db.LastNearMissSequences();
        }
        JsonElement before = await gateway.GetAsync("healthz", ct).ConfigureAwait(false);
        long sent = await ReplayAsync(recordings, modelManifest, dayRun.DeviceRuns, ct).ConfigureAwait(false);
        JsonElement health = await gateway.GetAsync("healthz", ct).ConfigureAwait(false);
        long stored = health.GetProperty("messages").GetInt64() - before.GetProperty("messages").GetInt64();
        if (stored < sent)
        {
            throw new InvalidOperationException($"day {dayRun.Day}: agents report {sent} messages acknowledged but the gateway stored {stored} more");
        }
        using (var db = new GatewayDatabase(_summary.GatewayDatabase))
        {
            dayRun.Detections = db.ReadDetections().Count(r => r.Sequence > _dayStart.GetValueOrDefault(r.DeviceId));
        }
        string models = string.Join(", ", dayRun.DeviceRuns.GroupBy(d => d.AgentSummary.GetValueOrDefault("model", "?"), StringComparer.Ordinal)
            .Select(g => $"{g.Key} on {g.Count()}"));
        return (true, string.Create(CultureInfo.InvariantCulture,
            $"{recordings.Count} agents replayed {dayRun.AudioHours * 60:F1} min running {models}; {sent} messages acknowledged, gateway stored {stored}, {dayRun.Detections} detections"));
    }

    private async Task<(bool, string)> LabelLaterDayAsync(IReadOnlyList<DeviceRecording> recordings, DayRun dayRun, GatewayClient gateway, CancellationToken ct)
    {
        var labeler = new Labeler(_outDir, _summary.GatewayDatabase, _progress);
        LabelFigures figures = await labeler.RunAsync(recordings, gateway, repo.LabelCalibration is not null, ct, _dayStart, _nearMissDayStart).ConfigureAwait(false);
        dayRun.Labels = figures;
        string truth = figures.DecidedWithTruth > 0
            ? string.Create(CultureInfo.InvariantCulture, $"; agrees with day {dayRun.Day}'s ground truth on {figures.AgreeWithTruth}/{figures.DecidedWithTruth} decided labels")
            : "";
        string review = await SimulatedReviewAsync(recordings, figures, gateway, ct).ConfigureAwait(false);
        return (true, $"day {dayRun.Day}'s detections: {figures.TrueAccepts} TA, {figures.FalseAccepts} FA, {figures.NeedsReview} to review (review queue {figures.ReviewQueue}){truth}{review}");
    }

    private async Task<(bool, string)> LaterDayMetricsAsync(DayRun dayRun, GatewayClient gateway, CancellationToken ct)
    {
        // By model: the fleet's field FA/hour of each version it has run (the gateway's labels; every day so far).
        JsonElement fa = await gateway.GetAsync("api/metrics/fa?window=24h&by=model", ct).ConfigureAwait(false);
        foreach (JsonElement g in fa.GetProperty("groups").EnumerateArray())
        {
            var row = new FaRow("model", g.GetProperty("key").GetString() ?? "", g.GetProperty("trueAccepts").GetInt64(), g.GetProperty("falseAccepts").GetInt64(),
                g.GetProperty("unlabelled").GetInt64(), g.GetProperty("listeningHours").GetDouble(),
                g.GetProperty("faPerHour").ValueKind == JsonValueKind.Number ? g.GetProperty("faPerHour").GetDouble() : null);
            dayRun.FaPerHour.Add(row);
            _progress.Detail(string.Create(CultureInfo.InvariantCulture,
                $"FA/hour model {row.Key}: {(row.FaPerHour is { } f ? f.ToString("F1", CultureInfo.InvariantCulture) : "n/a")} ({row.FalseAccepts} FA, {row.TrueAccepts} TA, {row.Unlabelled} unlabelled over {row.ListeningHours * 60:F2} listening min)"));
        }
        return (true, "gateway FA/hour by model (days 1.." + dayRun.Day + "): " + string.Join(", ", dayRun.FaPerHour.Select(r =>
            $"{r.Key} {(r.FaPerHour is { } f ? f.ToString("F1", CultureInfo.InvariantCulture) : "n/a")}")));
    }

    /// <summary>The model stage after a day (<see cref="ModelRolloutStage.RunAsync"/>), or why it is skipped.</summary>
    private async Task ModelStageAsync(int stage, string name, int day, IReadOnlyList<DeviceRecording> heard, GatewayClient gateway, CancellationToken ct)
    {
        string? notReady = _publisherMissing;
        if (notReady is null)
        {
            await _progress.StageAsync(stage, name, () => _rollout!.RunAsync(day, heard, r => StartLiveAgent(r, ct), gateway, ct)).ConfigureAwait(false);
            return;
        }
        ModelPush push = day <= 1 ? _summary.ModelPush : new ModelPush { Day = day };
        if (day > 1)
        {
            _summary.LaterModelPushes.Add(push);
        }
        push.Status = "skipped";
        push.Detail = notReady;
        _progress.Skipped(stage, name, notReady);
    }

    // ---- the loop ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Production (the bundled model) and the model the loop made, scored on the same audio of the last day against its ground
    /// truth, per device and for the fleet. The new model is the one the last confirmed rollout left on the devices; when no
    /// rollout was confirmed, the last candidate anyway (marked not deployed); without any candidate, production alone.
    /// </summary>
    private async Task<(bool, string)> LoopAsync(IReadOnlyList<DeviceRecording> lastDay, string productionManifest, CancellationToken ct)
    {
        var evaluation = new LoopEvaluation(repo, _outDir, _progress);
        IReadOnlyDictionary<string, string> streams = await evaluation.WriteStreamsAsync(lastDay, ct).ConfigureAwait(false);
        List<ModelPush> pushes = [_summary.ModelPush, .. _summary.LaterModelPushes];
        ModelPush? confirmed = pushes.LastOrDefault(p => p.Status == "confirmed" && p.Manifest is not null);
        ModelPush? after = confirmed ?? pushes.LastOrDefault(p => p.Manifest is not null);
        string status;
        bool deployed = false;
        if (confirmed is not null)
        {
            // Deployed means what the devices ran on the scored day, as their agents reported it, not only what the rollout said.
            DayRun day = _summary.LaterDays[^1];
            var ran = day.DeviceRuns.Select(d => d.AgentSummary.GetValueOrDefault("model")).Distinct(StringComparer.Ordinal).ToList();
            deployed = ran.Count == 1 && ran[0] == confirmed.Version;
            status = deployed
                ? $"deployed: every device ran it on day {day.Day} (rollout confirmed after day {confirmed.Day})"
                : $"rollout confirmed after day {confirmed.Day}, but on day {day.Day} the devices ran {string.Join(", ", ran)}";
        }
        else if (after is not null)
        {
            status = $"NOT deployed ({after.Status}: {after.Detail}); scored anyway";
        }
        else
        {
            status = $"no new model ({_summary.ModelPush.Status}{(_summary.ModelPush.Detail is null ? "" : ": " + _summary.ModelPush.Detail)})";
        }

        List<LoopFigures> before = await evaluation.EvaluateAsync("before", _summary.ModelVersion, productionManifest, streams, ct).ConfigureAwait(false);
        List<LoopFigures>? afterFigures = after is null ? null : await evaluation.EvaluateAsync("after", after.Version!, after.Manifest!, streams, ct).ConfigureAwait(false);
        int lastDayNumber = lastDay[0].Day;
        LoopReport loop = LoopReport.Compute(lastDayNumber,
            string.Create(CultureInfo.InvariantCulture,
                $"{lastDay.Count} devices, {lastDay.Sum(r => r.DurationSeconds) / 60:F1} min, {lastDay.Sum(r => r.Keywords.Count)} keywords at known times"),
            _summary.ModelVersion, before, after?.Version, afterFigures, deployed, status,
            "edgekws-model evaluate --streams loop/streams/<device>.json per model and device (the device front end and detector at the manifest's threshold; " +
            "a keyword counts as detected when the detector fires within [start, end + 1 s]); the fleet sums the devices' counts");
        _summary.Loop = loop;
        foreach (string line in SummaryReport.LoopLines(loop))
        {
            _progress.Detail(line);
        }
        return (true, loop.Target is { } t
            ? $"{loop.BeforeModel} -> {loop.AfterModel}{(loop.AfterDeployed ? "" : " (not deployed)")} on day {loop.Day}'s audio: target {t.Verdict}"
            : string.Create(CultureInfo.InvariantCulture,
                $"{loop.BeforeModel} on day {loop.Day}'s audio: FRR {loop.Before.Fleet.Frr * 100:0.0} %, {loop.Before.Fleet.FaPerHour:0.0} FA/hour; {status}"));
    }

    private string WriteAgentConfig(DeviceRecording r, string dir)
    {
        string state = StateDirectory(r.DeviceId);
        Directory.CreateDirectory(state);
        var config = new JsonObject
        {
            ["DeviceId"] = r.DeviceId,
            ["StateDirectory"] = state,
            ["Audio"] = new JsonObject { ["Source"] = "wav", ["WavPath"] = r.WavPath, ["RealTime"] = false },
            ["Mqtt"] = new JsonObject
            {
                ["Host"] = "127.0.0.1",
                ["Port"] = _brokerPort,
                ["Username"] = r.DeviceId,
                ["Password"] = _passwords[r.DeviceId],
                ["HeartbeatSeconds"] = HeartbeatSeconds,
                ["MaxBackoffSeconds"] = 5,
            },
            // Consent on: trigger clips go up as raw audio so the gateway side can align them.
            ["Privacy"] = new JsonObject { ["UploadRawAudio"] = true },
        };
        string path = Path.Combine(dir, "agent.json");
        File.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    // ---- 4. labels -------------------------------------------------------------------------------------------------

    private async Task<(bool, string)> LabelAsync(IReadOnlyList<DeviceRecording> recordings, GatewayClient gateway, CancellationToken ct)
    {
        var labeler = new Labeler(_outDir, _summary.GatewayDatabase, _progress);
        LabelFigures figures = await labeler.RunAsync(recordings, gateway, repo.LabelCalibration is not null, ct).ConfigureAwait(false);
        _summary.Labels = figures;
        _summary.ClipsWithAudio = figures.ClipsAligned;
        string truth = figures.DecidedWithTruth > 0
            ? string.Create(CultureInfo.InvariantCulture, $"; agrees with the corpus ground truth on {figures.AgreeWithTruth}/{figures.DecidedWithTruth} decided labels")
            : "";
        string review = await SimulatedReviewAsync(recordings, figures, gateway, ct).ConfigureAwait(false);
        return (true, $"{figures.Labeler}: {figures.ClipsAligned} clips aligned -> {figures.TrueAccepts} TA, {figures.FalseAccepts} FA, " +
            $"{figures.NeedsReview} to review (review queue {figures.ReviewQueue}, GET /api/review/items){truth}{review}");
    }

    // With --simulated-review, after the labeler's figures are taken (they describe the labeler alone): a person decides the queue.
    private async Task<string> SimulatedReviewAsync(IReadOnlyList<DeviceRecording> recordings, LabelFigures figures, GatewayClient gateway, CancellationToken ct)
    {
        if (!options.SimulatedReview)
        {
            return "";
        }
        figures.SimulatedReview = await new SimulatedReviewer(_summary.GatewayDatabase, _progress).ReviewAsync(recordings, gateway, ct).ConfigureAwait(false);
        return "; " + figures.SimulatedReview;
    }

    // ---- 5. metrics ------------------------------------------------------------------------------------------------

    private async Task<(bool, string)> MetricsAsync(IReadOnlyList<DeviceRecording> recordings, GatewayClient gateway, CancellationToken ct)
    {
        // Drift needs a baseline: the reference device (device-01, quiet dry room) stands in for the
        // training distribution; its merged sketches become the model's baseline, and the gateway
        // compares the whole fleet (noisier, reverberant rooms) against it.
        string reference = recordings[0].DeviceId;
        using (var db = new GatewayDatabase(_summary.GatewayDatabase))
        {
            DriftSketch? merged = null;
            foreach (SketchRow row in db.ReadSketches(reference).Where(s => s.ModelVersion == _summary.ModelVersion))
            {
                if (!WireJson.TryDeserialize(row.Json, WireJsonContext.Default.DriftSketch, out DriftSketch? s, out string why))
                {
                    throw new InvalidOperationException($"a stored sketch of {reference} does not parse: {why}");
                }
                if (merged is null)
                {
                    merged = s;
                }
                else if (DriftSketch.TryMerge(merged, s, out DriftSketch? m, out why))
                {
                    merged = m!;
                }
                else
                {
                    throw new InvalidOperationException($"cannot merge {reference}'s sketches: {why}");
                }
            }
            if (merged is null)
            {
                throw new InvalidOperationException($"{reference} stored no drift sketch for model {_summary.ModelVersion}");
            }
            await gateway.PutBytesAsync($"api/models/{Uri.EscapeDataString(_summary.ModelVersion)}/baseline", WireJson.Serialize(merged), ct).ConfigureAwait(false);
            _progress.Detail($"drift baseline of model {_summary.ModelVersion}: {reference}'s merged sketches ({merged.MfccFrameCount()} MFCC frames), PUT /api/models/{_summary.ModelVersion}/baseline");
        }

        foreach (string by in new[] { "device", "model", "fleet" })
        {
            JsonElement fa = await gateway.GetAsync($"api/metrics/fa?window=24h&by={by}", ct).ConfigureAwait(false);
            foreach (JsonElement g in fa.GetProperty("groups").EnumerateArray())
            {
                var row = new FaRow(by, g.GetProperty("key").GetString() ?? "", g.GetProperty("trueAccepts").GetInt64(), g.GetProperty("falseAccepts").GetInt64(),
                    g.GetProperty("unlabelled").GetInt64(), g.GetProperty("listeningHours").GetDouble(),
                    g.GetProperty("faPerHour").ValueKind == JsonValueKind.Number ? g.GetProperty("faPerHour").GetDouble() : null);
                _summary.FaPerHour.Add(row);
                _progress.Detail(string.Create(CultureInfo.InvariantCulture,
                    $"FA/hour {(by == row.Key ? by : by + " " + row.Key)}: {(row.FaPerHour is { } f ? f.ToString("F1", CultureInfo.InvariantCulture) : "n/a")} ({row.FalseAccepts} FA, {row.TrueAccepts} TA, {row.Unlabelled} unlabelled over {row.ListeningHours * 60:F2} listening min)"));
            }
        }

        JsonElement drift = await gateway.GetAsync("api/metrics/drift?window=24h", ct).ConfigureAwait(false);
        foreach (JsonElement m in drift.GetProperty("models").EnumerateArray())
        {
            DriftRow row = ParseDrift(m);
            _summary.Drift.Add(row);
            _progress.Detail(row.Reason is not null
                ? $"drift {row.ModelVersion}: {row.Reason}"
                : string.Create(CultureInfo.InvariantCulture, $"drift {row.ModelVersion}: {row.Level} over {row.Sketches} sketches; largest PSI {row.MaxPsi:F3} ({row.MaxPsiFeature}); volume shift {row.VolumeShiftDb:+0.0;-0.0} dB"));
        }
        FaRow? fleet = _summary.FaPerHour.FirstOrDefault(r => r.Scope == "fleet");
        DriftRow? d = _summary.Drift.FirstOrDefault(r => r.ModelVersion == _summary.ModelVersion);
        return (true, string.Create(CultureInfo.InvariantCulture,
            $"fleet FA/hour {(fleet?.FaPerHour is { } f2 ? f2.ToString("F1", CultureInfo.InvariantCulture) : "n/a")} over {(fleet?.ListeningHours ?? 0) * 60:F1} listening min; drift {d?.Level ?? d?.Reason ?? "n/a"}"));
    }

    private static DriftRow ParseDrift(JsonElement m)
    {
        string version = m.GetProperty("modelVersion").GetString() ?? "";
        int sketches = m.GetProperty("sketches").GetInt32();
        string? reason = m.TryGetProperty("reason", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        if (!m.TryGetProperty("report", out JsonElement report) || report.ValueKind != JsonValueKind.Object)
        {
            return new DriftRow(version, sketches, null, null, null, null, reason ?? "no report");
        }
        var features = new List<JsonElement>();
        features.AddRange(report.GetProperty("mfcc").EnumerateArray());
        foreach (string name in new[] { "rmsDbfs", "snrDb", "score" })
        {
            if (report.TryGetProperty(name, out JsonElement f) && f.ValueKind == JsonValueKind.Object)
            {
                features.Add(f);
            }
        }
        JsonElement worst = features.OrderByDescending(f => f.GetProperty("psi").ValueKind == JsonValueKind.Number ? f.GetProperty("psi").GetDouble() : double.MinValue).First();
        double? volume = report.TryGetProperty("volumeDb", out JsonElement v) && v.ValueKind == JsonValueKind.Object
            ? v.GetProperty("currentMean").GetDouble() - v.GetProperty("baselineMean").GetDouble()
            : null;
        return new DriftRow(version, sketches, report.GetProperty("level").ToString(), worst.GetProperty("psi").GetDouble(),
            worst.GetProperty("feature").GetString(), volume, null);
    }

    // ---- 7. summary ------------------------------------------------------------------------------------------------

    private async Task<(bool, string)> WriteSummaryAsync(CancellationToken ct)
    {
        _summary.WallSeconds = Math.Round(_progress.Elapsed.TotalSeconds, 1);
        _summary.Stages = _progress.Stages;
        (string md, string json) = await WriteSummaryFilesAsync(ct).ConfigureAwait(false);
        output.WriteLine();
        output.Write(SummaryReport.RenderText(_summary));
        output.WriteLine();
        return (true, $"{md} and {Path.GetFileName(json)}");
    }

    private async Task<(string Md, string Json)> WriteSummaryFilesAsync(CancellationToken ct)
    {
        string md = Path.Combine(_outDir, "summary.md");
        string json = Path.Combine(_outDir, "summary.json");
        await File.WriteAllTextAsync(md, SummaryReport.RenderMarkdown(_summary), ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(_summary, SummaryReport.JsonOptions), ct).ConfigureAwait(false);
        return (md, json);
    }

    // ---- processes -------------------------------------------------------------------------------------------------

    private async Task StopChildrenAsync()
    {
        // Agents first (they may still be draining after an interrupt), then the gateway commits what it has.
        await Task.WhenAll(_children.Where(c => c != _gateway).Select(c => c.StopAsync(TimeSpan.FromSeconds(30)))).ConfigureAwait(false);
        if (_gateway is not null)
        {
            await _gateway.StopAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            string? stopped = _gateway.Lines().LastOrDefault(l => l.StartsWith("gateway: stopped", StringComparison.Ordinal));
            if (stopped is not null)
            {
                _progress.Detail(stopped);
            }
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    internal static string DeviceId(int index) => string.Create(CultureInfo.InvariantCulture, $"device-{index + 1:00}");

    internal static Dictionary<string, string> ParseSummary(string? line)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (line is null)
        {
            return fields;
        }
        foreach (string part in line["summary:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                fields[part[..eq]] = part[(eq + 1)..];
            }
        }
        return fields;
    }

    private static void PrepareOutputDirectory(string dir)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            // Only a previous run's directory (or the old front-end job's) is replaced whole.
            if (!File.Exists(Path.Combine(dir, Marker)) && !File.Exists(Path.Combine(dir, "main-job.md")))
            {
                throw new ArgumentException($"--out {dir} is not empty and not a previous main-job output; choose another directory");
            }
            Directory.Delete(dir, recursive: true);
        }
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Marker), "output of the EdgeKws main job; replaced by the next run\n");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}

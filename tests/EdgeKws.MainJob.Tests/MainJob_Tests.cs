using System.Text.Json;

namespace EdgeKws.MainJob.Tests;

/// <summary>
/// The main job end to end at a tiny scale: 2 devices x 36 s of generated audio a day for two days, the real gateway and
/// agent processes, PocketSphinx labels, the gateway's FA/hour and drift, and the default model stage:
/// the production model re-calibrated on the devices' day-1 clips, registered, gated, pushed and confirmed; on day 2 the
/// agents hear new utterances with it, and the loop scores production and it on the day-2 audio.
/// </summary>
public sealed class MainJob_Tests
{
    private static readonly string[] StageNames =
        ["audio", "gateway", "agents", "labels", "metrics", "model push", "day 2 audio", "day 2 agents", "day 2 labels", "day 2 metrics", "loop", "summary"];

    [Fact]
    public async Task Runs_every_stage_of_two_days_and_leaves_figures_the_loop_a_summary_and_no_processes_at_tiny_scale()
    {
        using MainJobRun run = MainJobRun.Start("--devices", "2", "--hours", "0.01", "--days", "2");
        // Liveness only: the tiny run starts a gateway and four agents, which on a loaded 2-core CI machine takes minutes.
        int exit = await run.WaitForExitAsync(TimeSpan.FromSeconds(600));
        string stdout = run.Stdout;
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{run.Stderr}");

        // One progress line per stage, each with its timing; the model push may only be skipped for the stated reason.
        for (int i = 0; i < StageNames.Length; i++)
        {
            string prefix = $"{i + 1}/{StageNames.Length} {StageNames[i]}: ";
            string? line = stdout.Split('\n').FirstOrDefault(l => l.Contains(prefix, StringComparison.Ordinal));
            Assert.True(line is not null, $"no outcome line for stage '{StageNames[i]}':\n{stdout}");
            Assert.Contains("(took ", line);
            Assert.DoesNotContain("FAILED", line);
            if (StageNames[i] == "model push" && line.Contains("SKIPPED", StringComparison.Ordinal))
            {
                // Only before the gateway has its model publisher (registry, signing, rollout).
                Assert.Contains("waiting for the model publisher", line);
            }
        }

        JsonElement s = run.SummaryJson();
        Assert.True(s.GetProperty("succeeded").GetBoolean());
        Assert.Equal(2, s.GetProperty("deviceRuns").GetArrayLength());
        Assert.True(s.GetProperty("audioHours").GetDouble() >= 0.02 * 0.9, "about 0.01 h per device was generated");
        long detections = s.GetProperty("detections").GetInt64();
        Assert.True(detections > 0, "the agents detected something and the gateway stored it");
        Assert.True(s.GetProperty("gatewayMessages").GetInt64() >= s.GetProperty("messagesSentByAgents").GetInt64());
        JsonElement labels = s.GetProperty("labels");
        long decided = labels.GetProperty("trueAccepts").GetInt64() + labels.GetProperty("falseAccepts").GetInt64();
        Assert.True(decided > 0, "forced alignment decided at least one label");
        Assert.Equal(detections, decided + labels.GetProperty("needsReview").GetInt64());
        // The bundled verifier and calibration decided them, and the gateway's labeling registry holds both (with their lineage).
        Assert.Contains("labeling registry: verifier ", stdout, StringComparison.Ordinal);
        Assert.Contains("labeling registry: calibration ", stdout, StringComparison.Ordinal);
        // What became of the near misses (how a missed keyword reaches the gateway), in the summary and its JSON.
        Assert.Contains("near misses (the band below the threshold: how a keyword the model missed reaches the gateway): ", stdout, StringComparison.Ordinal);
        JsonElement nearMisses = labels.GetProperty("nearMisses");
        long Nm(string field) => nearMisses.GetProperty(field).GetInt64();
        Assert.InRange(Nm("onKeywords"), 0, Nm("uploaded"));
        Assert.InRange(Nm("trueAcceptsOnKeywords"), 0, Nm("trueAccepts"));
        Assert.Equal(Nm("uploaded"), Nm("trueAccepts") + Nm("falseAccepts") + Nm("needsReview") + Nm("unlabelled"));

        JsonElement fleet = s.GetProperty("faPerHour").EnumerateArray().Single(r => r.GetProperty("scope").GetString() == "fleet");
        Assert.True(fleet.GetProperty("listeningHours").GetDouble() > 0.01, "heartbeats carried the listening time");
        Assert.Equal(JsonValueKind.Number, fleet.GetProperty("faPerHour").ValueKind);
        Assert.Equal(2, s.GetProperty("faPerHour").EnumerateArray().Count(r => r.GetProperty("scope").GetString() == "device"));
        JsonElement drift = s.GetProperty("drift").EnumerateArray().Single();
        Assert.Equal(JsonValueKind.Number, drift.GetProperty("maxPsi").ValueKind);

        // The run's operator API token: made with the gateway's `token create`, kept 0600, and the way into the dashboard.
        string tokenFile = s.GetProperty("tokenFile").GetString()!;
        Assert.True(File.Exists(tokenFile), tokenFile);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }
        string token = File.ReadAllText(tokenFile).Trim();
        Assert.StartsWith("ekws_", token, StringComparison.Ordinal);
        Assert.Contains($"and log in with the operator token in gateway/operator.token: {token}", stdout, StringComparison.Ordinal);
        Assert.Contains("log in with the operator token in " + tokenFile, stdout, StringComparison.Ordinal);

        Assert.True(File.Exists(Path.Combine(run.OutDir, "summary.md")));
        Assert.Contains("FA/hour", File.ReadAllText(Path.Combine(run.OutDir, "summary.md")));
        // The default model stage: the production model re-calibrated on the devices' clips, promoted by the
        // gate, pushed canary first and confirmed by every agent.
        JsonElement push = s.GetProperty("modelPush");
        string pushStatus = push.GetProperty("status").GetString()!;
        Assert.True(pushStatus == "confirmed", $"model push {pushStatus}: {push.GetProperty("detail")}\n{stdout}");
        Assert.Matches(@"^\d+\.\d+\.\d+-field\.1$", push.GetProperty("version").GetString());
        Assert.Equal(["device-01", "device-02"], push.GetProperty("confirmedDevices").EnumerateArray().Select(d => d.GetString()).Order());
        string detail = push.GetProperty("detail").GetString()!;
        Assert.Contains("re-calibrated from " + s.GetProperty("modelVersion").GetString(), detail);
        Assert.Contains("canary device-01 first", detail);
        Assert.StartsWith("PROMOTE", push.GetProperty("gate").GetString());
        // Both live agents ran the pushed model to the end of their audio.
        Assert.Equal(2, stdout.Split('\n').Count(l => l.Contains("-live: model=" + push.GetProperty("version").GetString(), StringComparison.Ordinal)));

        // Day 2: the same devices, new utterances, heard by the pushed model.
        Assert.Equal(2, s.GetProperty("days").GetInt32());
        JsonElement day2 = s.GetProperty("laterDays").EnumerateArray().Single();
        Assert.Equal(2, day2.GetProperty("day").GetInt32());
        JsonElement[] day1Runs = [.. s.GetProperty("deviceRuns").EnumerateArray()];
        JsonElement[] day2Runs = [.. day2.GetProperty("deviceRuns").EnumerateArray()];
        Assert.Equal(day1Runs.Select(d => (d.GetProperty("deviceId").GetString(), d.GetProperty("speaker").GetString(), d.GetProperty("room").GetString())),
            day2Runs.Select(d => (d.GetProperty("deviceId").GetString(), d.GetProperty("speaker").GetString(), d.GetProperty("room").GetString())));
        Assert.All(day2Runs, d => Assert.Equal(push.GetProperty("version").GetString(), d.GetProperty("agentSummary").GetProperty("model").GetString()));
        Assert.All(day2Runs, d => Assert.True(File.Exists(Path.Combine(run.OutDir, "audio", "day2", d.GetProperty("deviceId").GetString()!,
            d.GetProperty("deviceId").GetString() + "-day2.wav"))));

        // The loop: production and the pushed model on the same day-2 audio, per device and for the fleet.
        JsonElement loop = s.GetProperty("loop");
        Assert.Equal(2, loop.GetProperty("day").GetInt32());
        Assert.Equal(s.GetProperty("modelVersion").GetString(), loop.GetProperty("beforeModel").GetString());
        Assert.Equal(push.GetProperty("version").GetString(), loop.GetProperty("afterModel").GetString());
        Assert.True(loop.GetProperty("afterDeployed").GetBoolean(), loop.GetProperty("afterStatus").GetString());
        var fleets = new List<JsonElement>();
        foreach (string side in new[] { "before", "after" })
        {
            JsonElement sideFleet = loop.GetProperty(side).GetProperty("fleet");
            JsonElement[] devices = [.. loop.GetProperty(side).GetProperty("devices").EnumerateArray()];
            Assert.Equal(["device-01", "device-02"], devices.Select(d => d.GetProperty("deviceId").GetString()));
            Assert.Equal(day2.GetProperty("keywords").GetInt32(), sideFleet.GetProperty("keywords").GetInt64());
            Assert.Equal(devices.Sum(d => d.GetProperty("missed").GetInt64()), sideFleet.GetProperty("missed").GetInt64());
            Assert.Equal(devices.Sum(d => d.GetProperty("falseAccepts").GetInt64()), sideFleet.GetProperty("falseAccepts").GetInt64());
            Assert.Equal((double)sideFleet.GetProperty("missed").GetInt64() / sideFleet.GetProperty("keywords").GetInt64(), sideFleet.GetProperty("frr").GetDouble(), 9);
            Assert.True(sideFleet.GetProperty("negativeHours").GetDouble() > 0.005, "most of each day-2 WAV lies outside the keywords");
            Assert.Equal(JsonValueKind.Number, sideFleet.GetProperty("faPerHour").ValueKind);
            fleets.Add(sideFleet);
        }
        Assert.Equal(fleets[0].GetProperty("negativeHours").GetDouble(), fleets[1].GetProperty("negativeHours").GetDouble(), 9);
        JsonElement target = loop.GetProperty("target");
        bool met = fleets[1].GetProperty("frr").GetDouble() <= fleets[0].GetProperty("frr").GetDouble() / 2 + 1e-12
            && fleets[1].GetProperty("faPerHour").GetDouble() <= fleets[0].GetProperty("faPerHour").GetDouble() + 1e-9;
        Assert.Equal(met, target.GetProperty("met").GetBoolean());
        Assert.StartsWith(met ? "met: " : "missed: ", target.GetProperty("verdict").GetString());
        string md = File.ReadAllText(Path.Combine(run.OutDir, "summary.md"));
        Assert.Contains("## The loop", md);
        Assert.Contains("| **fleet** | after: " + push.GetProperty("version").GetString(), md);

        JsonElement[] children = [.. s.GetProperty("processes").EnumerateArray()];
        // The gateway and two replaying agents a day, plus two live agents when a model was pushed.
        Assert.Equal(pushStatus == "confirmed" ? 7 : 5, children.Length);
        Assert.All(children, c => Assert.True(MainJobRun.IsGone(c.GetProperty("pid").GetInt32()), $"{c.GetProperty("name")} is still running"));
    }

    /// <summary>
    /// <c>--model-stage finetune</c> at a tiny scale (one day, 2 devices x 36 s, --quick-model: a small replay corpus and the trainer's
    /// tiny settings): the bundled model is registered with its float weights, the gateway exports the field dataset, and the FineTune
    /// job starts from exactly those weights (lineage), trains, quantizes and is gated; the summary reports the gate's verdict.
    /// </summary>
    [Fact]
    public async Task Finetune_stage_runs_the_fine_tune_job_from_the_registered_float_weights_and_reports_its_outcome()
    {
        using MainJobRun run = MainJobRun.Start("--devices", "2", "--hours", "0.01", "--days", "1", "--model-stage", "finetune", "--quick-model");
        int exit = await run.WaitForExitAsync(TimeSpan.FromSeconds(600)); // liveness only
        string stdout = run.Stdout;
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{run.Stderr}");
        string? line = stdout.Split('\n').FirstOrDefault(l => l.Contains("6/7 model push: ", StringComparison.Ordinal));
        Assert.True(line is not null && !line.Contains("FAILED", StringComparison.Ordinal), $"model push:\n{stdout}");

        JsonElement s = run.SummaryJson();
        JsonElement push = s.GetProperty("modelPush");
        string status = push.GetProperty("status").GetString()!;
        string detail = push.GetProperty("detail").GetString() ?? "";
        string bundledVersion = s.GetProperty("modelVersion").GetString()!;
        // The bootstrap registration kept the bundled float weights (the register job found them beside the training manifest).
        Assert.Contains("stage Production, float weights kept", stdout, StringComparison.Ordinal);
        string md = File.ReadAllText(Path.Combine(run.OutDir, "summary.md"));
        Assert.Contains(detail, md, StringComparison.Ordinal);
        // The job ran to the gate (day 1 at this scale decides true accepts only: the replay supplies the background windows).
        Assert.True(status is "confirmed" or "refused by the gate", $"{status}: {detail}\n{stdout}");

        string bundledFloat = Path.Combine(RepoLayout.Find().Root, "models", "default", $"hey-edge-{bundledVersion}.float.onnx");
        string bundledSha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(bundledFloat)));
        using JsonDocument jobDoc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(run.OutDir, "model", "finetune-job.json")));
        JsonElement job = jobDoc.RootElement;
        Assert.Equal("FineTune", job.GetProperty("request").GetProperty("kind").ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+-ft\.1$", push.GetProperty("version").GetString());
        // The job exported the parent's registered float weights before training: the bundled model's float ONNX, byte for byte.
        string parentFloat = Path.Combine(job.GetProperty("workDirectory").GetString()!, "parent", "parent.float.onnx");
        Assert.Equal(bundledSha, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(parentFloat))));
        // Trained, quantized, gated: the lineage names the bundled float weights, and the summary reports the verdict.
        JsonElement fineTune = job.GetProperty("model").GetProperty("fineTune");
        Assert.Equal(bundledVersion, fineTune.GetProperty("parentVersion").GetString());
        Assert.Equal(bundledSha, fineTune.GetProperty("initFromSha256").GetString(), ignoreCase: true);
        string gate = push.GetProperty("gate").GetString()!;
        Assert.True(gate.StartsWith("PROMOTE", StringComparison.Ordinal) || gate.StartsWith("REFUSE", StringComparison.Ordinal), gate);
        Assert.Contains(gate, md, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_c_while_agents_replay_stops_every_child_and_reports_the_interruption()
    {
        using MainJobRun run = MainJobRun.Start("--devices", "2", "--hours", "0.03", "--days", "1");
        await run.WaitForStdoutAsync("agents started (pids", TimeSpan.FromSeconds(300)); // liveness only
        run.Signal("INT");
        int exit = await run.WaitForExitAsync(TimeSpan.FromSeconds(180)); // liveness only
        Assert.True(exit == 130, $"exit {exit}\n{run.Stdout}\n{run.Stderr}");

        JsonElement s = run.SummaryJson();
        Assert.False(s.GetProperty("succeeded").GetBoolean());
        Assert.Equal("interrupted", s.GetProperty("failure").GetString());
        Assert.Contains("7/7 summary: ", run.Stdout); // --days 1: today's single pass of seven stages
        Assert.Equal(JsonValueKind.Null, s.GetProperty("loop").ValueKind);
        JsonElement[] children = [.. s.GetProperty("processes").EnumerateArray()];
        Assert.Equal(3, children.Length);
        Assert.All(children, c => Assert.True(MainJobRun.IsGone(c.GetProperty("pid").GetInt32()), $"{c.GetProperty("name")} is still running"));
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeKws.MainJob;

/// <summary>Renders the summary for the console and as summary.md.</summary>
internal static class SummaryReport
{
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static string F(double x, string format = "F1") => x.ToString(format, CultureInfo.InvariantCulture);

    public static string RenderText(MainJobSummary s)
    {
        var b = new StringBuilder();
        b.AppendLine("== EdgeKws main job: summary ==");
        foreach (string line in Lines(s))
        {
            b.AppendLine("  " + line);
        }
        return b.ToString();
    }

    public static string RenderMarkdown(MainJobSummary s)
    {
        var b = new StringBuilder();
        b.AppendLine("# EdgeKws main job");
        b.AppendLine();
        foreach (string line in Lines(s))
        {
            b.AppendLine("- " + line);
        }
        b.AppendLine();
        b.AppendLine("## Devices");
        b.AppendLine();
        b.AppendLine("| device | speaker | room | audio s | keywords | detections | audio clips | heartbeats | sketches | sent | speed |");
        b.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (DeviceRun d in s.DeviceRuns)
        {
            string G(string k) => d.AgentSummary.GetValueOrDefault(k, "");
            b.AppendLine($"| {d.DeviceId} | {d.Speaker} | {d.Room} | {F(d.AudioSeconds, "F0")} | {d.KeywordsInAudio} | {G("detections")} | {G("clips_audio")} | {G("heartbeats")} | {G("sketches")} | {G("sent")} | {G("speed")} |");
        }
        b.AppendLine();
        b.AppendLine("## FA/hour (gateway, `GET /api/metrics/fa?window=24h&by=...`)");
        b.AppendLine();
        b.AppendLine("| scope | key | FA/hour | false accepts | true accepts | unlabelled | listening min |");
        b.AppendLine("|---|---|---|---|---|---|---|");
        foreach (FaRow r in s.FaPerHour)
        {
            b.AppendLine($"| {r.Scope} | {r.Key} | {(r.FaPerHour is { } f ? F(f) : "n/a")} | {r.FalseAccepts} | {r.TrueAccepts} | {r.Unlabelled} | {F(r.ListeningHours * 60, "F2")} |");
        }
        b.AppendLine();
        b.AppendLine("## Drift (gateway, `GET /api/metrics/drift?window=24h`, baseline: device-01's sketches)");
        b.AppendLine();
        b.AppendLine("| model | sketches | level | largest PSI | feature | volume shift dB | note |");
        b.AppendLine("|---|---|---|---|---|---|---|");
        foreach (DriftRow r in s.Drift)
        {
            b.AppendLine($"| {r.ModelVersion} | {r.Sketches} | {r.Level ?? ""} | {(r.MaxPsi is { } p ? F(p, "F3") : "")} | {r.MaxPsiFeature ?? ""} | {(r.VolumeShiftDb is { } v ? F(v) : "")} | {r.Reason ?? ""} |");
        }
        if (s.Loop is { } loop)
        {
            b.AppendLine();
            b.AppendLine($"## The loop: production and the new model on day {loop.Day}'s audio (corpus ground truth)");
            b.AppendLine();
            foreach (string line in LoopLines(loop))
            {
                b.AppendLine("- " + line);
            }
            if (loop.Target is { Met: false })
            {
                b.AppendLine("- " + ShortfallLine(s));
            }
            b.AppendLine();
            b.AppendLine("| device | model | keywords | missed | FRR % | negative min | false accepts | FA/hour |");
            b.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach ((string name, LoopSide side) in new[] { ("before", loop.Before), ("after", loop.After) }.Where(x => x.Item2 is not null).Select(x => (x.Item1, x.Item2!)))
            {
                foreach (LoopFigures d in side.Devices.Append(side.Fleet))
                {
                    b.AppendLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {(d.DeviceId is null ? "**fleet**" : d.DeviceId)} | {name}: {side.Model} | {d.Keywords} | {d.Missed} | {d.Frr * 100:0.0} | {d.NegativeHours * 60:0.00} | {d.FalseAccepts} | {d.FaPerHour:0.0} |"));
                }
            }
            b.AppendLine();
            b.AppendLine("Method: " + loop.Method + ".");
        }
        if (s.LaterDays.Count > 0)
        {
            b.AppendLine();
            b.AppendLine("## Later days (the same devices, new utterances)");
            b.AppendLine();
            b.AppendLine("| day | device | model it ran | audio s | keywords | detections | audio clips | sent |");
            b.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (DayRun day in s.LaterDays)
            {
                foreach (DeviceRun d in day.DeviceRuns)
                {
                    string G(string k) => d.AgentSummary.GetValueOrDefault(k, "");
                    b.AppendLine($"| {day.Day} | {d.DeviceId} | {G("model")} | {F(d.AudioSeconds, "F0")} | {d.KeywordsInAudio} | {G("detections")} | {G("clips_audio")} | {G("sent")} |");
                }
            }
        }
        b.AppendLine();
        b.AppendLine("## Stages");
        b.AppendLine();
        b.AppendLine("| # | stage | status | seconds | outcome |");
        b.AppendLine("|---|---|---|---|---|");
        foreach (StageTiming t in s.Stages)
        {
            b.AppendLine($"| {t.Number} | {t.Name} | {t.Status} | {F(t.Seconds)} | {t.Outcome.Replace("|", "/", StringComparison.Ordinal)} |");
        }
        b.AppendLine();
        b.AppendLine("Files: `audio/<device>/` (WAVs + corpus ground truth), `gateway/` (gateway.db, gateway.log), `devices/<device>/` " +
            "(agent.json, state, agent.log), `labels/` (clips and labels.csv), `summary.json`.");
        return b.ToString();
    }

    /// <summary>The loop in a few lines: both models' fleet figures and the target's verdict.</summary>
    public static IEnumerable<string> LoopLines(LoopReport loop)
    {
        static string Fig(LoopFigures f) => string.Create(CultureInfo.InvariantCulture,
            $"FRR {f.Frr * 100:0.0} % ({f.Missed}/{f.Keywords} missed), {f.FaPerHour:0.0} FA/hour ({f.FalseAccepts} in {f.NegativeHours * 60:0.00} negative min)");
        yield return $"loop: production and the new model scored on day {loop.Day}'s audio ({loop.Audio}) against the corpus ground truth";
        yield return $"loop before (production {loop.BeforeModel}): {Fig(loop.Before.Fleet)}";
        yield return loop.After is { } after
            ? $"loop after ({loop.AfterModel}, {loop.AfterStatus}): {Fig(after.Fleet)}"
            : $"loop after: {loop.AfterStatus}";
        if (loop.Target is { } t)
        {
            yield return $"loop target (day-{loop.Day} FRR at most half of production's, FA/hour not higher): {t.Verdict}";
        }
    }

    /// <summary>Why the loop missed its target, from what the run measured: what the model stage can change, and which of the
    /// keywords production missed the day-1 labels turned into field data.</summary>
    public static string ShortfallLine(MainJobSummary s)
    {
        string stage = s.ModelStage switch
        {
            ModelStageKind.Recalibrate => "'recalibrate' re-calibrated the production model's activation ranges and kept its weights, so it cannot learn a keyword the weights miss",
            ModelStageKind.FineTune => "'finetune' fine-tuned the production weights on the day's decided labels",
            _ => "'train' trained a small model on a corpus generated in the run, not on the fleet's labels",
        };
        LabelFigures l = s.Labels;
        NearMissFigures n = l.NearMisses;
        string pending = l.SimulatedReview is { } r
            ? $"then the simulated reviewer decided the {r.NearMisses} near misses left to review, {r.NearMissKeywords} of them keywords"
            : $"{n.NeedsReview} near misses wait for review";
        return $"loop shortfall: the model stage {stage}; day 1's labels held {l.TrueAccepts} decided true accepts (keywords production caught) and " +
            $"{n.TrueAcceptsOnKeywords} of the {n.OnKeywords} keywords production missed that reached the gateway as near misses ({pending})";
    }

    private static IEnumerable<string> Lines(MainJobSummary s)
    {
        yield return s.Succeeded ? "result: ok" : $"result: FAILED ({s.Failure})";
        yield return string.Create(CultureInfo.InvariantCulture,
            $"ran: {s.Devices} devices (agent processes) x {F(s.HoursPerDevice * 60)} min = {F(s.AudioHours * 60)} min of audio, model {s.ModelVersion}; {s.MessagesSentByAgents} MQTT messages acknowledged, gateway stored {s.GatewayMessages} ({s.GatewayQuarantined} quarantined)");
        yield return $"detections: {s.Detections} ({s.ClipsWithAudio} with audio clips)";
        LabelFigures l = s.Labels;
        yield return $"labels ({l.Labeler}): {l.TrueAccepts} TA, {l.FalseAccepts} FA, {l.NeedsReview} need review; review queue {l.ReviewQueue}";
        if (l.DecidedWithTruth > 0)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"ground truth (corpus keyword times): {l.TruthTrueAccepts} detections on a keyword, {l.TruthFalseAccepts} not; the labeler agrees on {l.AgreeWithTruth}/{l.DecidedWithTruth} decided labels ({F(100.0 * l.AgreeWithTruth / l.DecidedWithTruth, "F0")} %): TA {l.TrueAcceptsCorrect}/{l.TrueAccepts} right, FA {l.FalseAcceptsCorrect}/{l.FalseAccepts} right");
        }
        if (l.ReviewRate is double reviewRate)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"review rate: {l.NeedsReview} of {l.TrueAccepts + l.FalseAccepts + l.NeedsReview} labelled detections ({F(100 * reviewRate, "F0")} %) sent to a person (targets: >= 95 % agreement on decided labels, <= 25 % to review)");
        }
        NearMissFigures n = l.NearMisses;
        yield return $"near misses (the band below the threshold: how a keyword the model missed reaches the gateway): {n.Uploaded} uploaded, {n.OnKeywords} on keywords " +
            $"(ground truth); the labeler decided {n.TrueAccepts} TA ({n.TrueAcceptsOnKeywords} on keywords), {n.FalseAccepts} FA, sent {n.NeedsReview} to review" +
            (n.Unlabelled > 0 ? $", {n.Unlabelled} not labelled (no clip stored)" : "");
        if (l.SimulatedReview is { } review)
        {
            yield return $"--simulated-review, day 1: {review} (the labels the model stage used include these; the figures above are the labeler's alone)";
        }
        foreach (FaRow r in s.FaPerHour.Where(r => r.Scope != "device"))
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"FA/hour {(r.Scope == r.Key ? r.Scope : r.Scope + " " + r.Key)}: {(r.FaPerHour is { } f ? F(f) : "n/a")} ({r.FalseAccepts} FA over {F(r.ListeningHours * 60, "F2")} listening min)");
        }
        string perDevice = string.Join(", ", s.FaPerHour.Where(r => r.Scope == "device").Select(r => $"{r.Key} {(r.FaPerHour is { } f ? F(f) : "n/a")}"));
        if (perDevice.Length > 0)
        {
            yield return "FA/hour per device: " + perDevice;
        }
        foreach (DriftRow d in s.Drift)
        {
            yield return d.Reason is not null
                ? $"drift {d.ModelVersion}: {d.Reason}"
                : string.Create(CultureInfo.InvariantCulture, $"drift {d.ModelVersion}: PSI status {d.Level}, largest PSI {F(d.MaxPsi ?? 0, "F3")} ({d.MaxPsiFeature}) over {d.Sketches} sketches");
        }
        yield return s.ModelPush.Status switch
        {
            "confirmed" => $"model pushed: {s.ModelPush.Version}, confirmed by {s.ModelPush.ConfirmedDevices.Count}/{s.Devices} devices ({string.Join(", ", s.ModelPush.ConfirmedDevices)}); {s.ModelPush.Detail}{(s.ModelPush.Gate is null || (s.ModelPush.Detail?.Contains(s.ModelPush.Gate, StringComparison.Ordinal) ?? false) ? "" : "; gate: " + s.ModelPush.Gate)}",
            _ => $"model push: {s.ModelPush.Status}{(s.ModelPush.Detail is null ? "" : " (" + s.ModelPush.Detail + ")")}",
        };
        yield return string.Create(CultureInfo.InvariantCulture, $"wall time: {F(s.WallSeconds)} s on {s.Machine}");
        foreach (ModelPush p in s.LaterModelPushes)
        {
            yield return $"model push after day {p.Day}: {p.Status}{(p.Version is null ? "" : " " + p.Version)}{(p.Detail is null ? "" : " (" + p.Detail + ")")}";
        }
        foreach (DayRun day in s.LaterDays)
        {
            LabelFigures l2 = day.Labels;
            string models = string.Join(", ", day.DeviceRuns.Select(d => d.AgentSummary.GetValueOrDefault("model", "?")).Distinct(StringComparer.Ordinal));
            string agreement = l2.DecidedWithTruth > 0 ? $" (agree with the ground truth on {l2.AgreeWithTruth}/{l2.DecidedWithTruth})" : "";
            yield return $"day {day.Day}: {F(day.AudioHours * 60)} min of new utterances, {day.Keywords} keywords, {day.Detections} detections by {models}; " +
                $"labels {l2.TrueAccepts} TA, {l2.FalseAccepts} FA, {l2.NeedsReview} to review{agreement}";
        }
        if (s.Loop is { } loop)
        {
            foreach (string line in LoopLines(loop))
            {
                yield return line;
            }
            if (loop.Target is { Met: false })
            {
                yield return ShortfallLine(s);
            }
        }
        yield return s.GatewayKeptRunning
            ? $"dashboard: {s.DashboardUrl} (gateway kept running; Ctrl-C stops it); log in with the operator token in {s.TokenFile}"
            : $"dashboard: {s.DashboardUrl} was served during the run (rerun with --keep-running to leave it up; log in with the operator token in {s.TokenFile}); gateway database {s.GatewayDatabase}";
        yield return $"report: {Path.Combine(s.OutputDirectory, "summary.md")} (+ summary.json); logs under {s.OutputDirectory}";
        if (s.Processes.Count > 0)
        {
            int alive = s.Processes.Count(p => !p.Exited);
            yield return alive == 0 ? $"processes: all {s.Processes.Count} child processes stopped" : $"processes: {alive} of {s.Processes.Count} still running";
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeKws.Corpus;
using EdgeKws.Detection;
using EdgeKws.ModelLoop.Evaluation;

namespace EdgeKws.Bench.Report;

/// <summary>What was measured for one subject (a build + a model).</summary>
public sealed class SubjectResult
{
    public required string Label { get; init; }
    public required string ModelManifest { get; init; }
    public List<Figure> Figures { get; } = [];
    public List<LatencySet> Latency { get; } = [];
    public List<AgentResult> AgentRuns { get; } = [];
    public Measurements.Accuracy? Accuracy { get; set; }
}

/// <summary><c>edgekws-bench report</c>: measures and writes report.md, the PNG plots and figures.json.</summary>
public static class ReportCommand
{
    public const string ReportFile = "report.md";
    public const string LatencyPlot = "latency.png";
    public const string MemoryPlot = "memory.png";
    public const string DetPlotFile = "det.png";
    public const string FiguresFile = "figures.json";
    public const string CompareFile = "compare.md";

    /// <summary>The capture block the agent reads by default (Audio.PeriodFrames): sets the audio-time part of keyword-end-to-event.</summary>
    private const int BlockSamples = 320;

    /// <summary>Measures and writes the report (or the comparison); exit 0, or 1 with the reason on <paramref name="stderr"/>.</summary>
    public static async Task<int> RunAsync(ReportOptions o, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            return o.Compare is null ? await ReportAsync(o, stdout) : await CompareAsync(o, stdout);
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or IOException or ArgumentException or JsonException)
        {
            stderr.WriteLine($"edgekws-bench: {e.Message}");
            return 1;
        }
    }

    private sealed record Context(ReportOptions Options, string Repo, string Work, string Corpus, string PositiveWav, double[] KeywordStartS, double[] KeywordEndS,
        Action<string> Log);

    private static async Task<Context> PrepareAsync(ReportOptions o, TextWriter stdout, string keyword)
    {
        string repo = o.Repo is not null ? Path.GetFullPath(o.Repo) : Builds.FindRepoRoot(Directory.GetCurrentDirectory());
        string work = Path.Combine(o.OutputDirectory, "work");
        Directory.CreateDirectory(work);
        var clock = Stopwatch.StartNew();
        void Log(string m)
        {
            lock (stdout) stdout.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {m}");
        }
        string corpus = o.Corpus ?? Path.Combine(work, "corpus");
        if (o.Corpus is null)
        {
            // A corpus of its own, generated here (seeded: the same audio every run). Quick: seconds; full: about a minute.
            string[] preset = o.Quick
                ? ["--speakers", "5", "--takes", "1", "--sentences", "1", "--stream-sentences", "1", "--negatives-minutes", "0.3", "--positives", "12", "--noise", "none,pink,white"]
                : ["--speakers", "24", "--takes", "1", "--sentences", "2", "--stream-sentences", "4", "--negatives-minutes", "10", "--positives", "150"];
            Log($"corpus: edgekws-corpus generate {string.Join(' ', preset)}");
            var options = CorpusCommandLine.Parse(["generate", "--out", corpus, "--seed", "7", .. preset]);
            await using var corpusLog = new StreamWriter(Path.Combine(work, "corpus.log"));
            await CorpusGenerator.GenerateAsync(options, m => corpusLog.WriteLine(m));
        }
        var streams = Measurements.PositiveStreams(corpus, keyword);
        var (wav, ends, starts, _) = streams[0];
        return new Context(o, repo, work, corpus, wav, starts, ends, Log);
    }

    private static async Task<SubjectResult> MeasureAsync(Context ctx, string label, string manifest, AgentBuild x64, AgentBuild? arm64, bool evaluate)
    {
        KeywordModel model = Measurements.LoadModel(manifest);
        var s = new SubjectResult { Label = label, ModelManifest = manifest };
        s.Figures.AddRange(Measurements.StaticMemory(model));
        foreach (AgentBuild build in arm64 is null ? [x64] : new[] { x64, arm64 })
        {
            AgentResult run = await AgentRunner.RunAsync(build, ctx.Repo, manifest, ctx.PositiveWav, ctx.Work, ctx.Options.FrontEndSeconds(build.Emulated),
                TimeSpan.FromMinutes(build.Emulated ? 60 : 15), ctx.Log);
            s.AgentRuns.Add(run);
            string p = build.Platform;
            string emulated = build.Emulated ? " (EMULATED: qemu-user)" : "";
            s.Latency.Add(new LatencySet("MFCC per frame", p, "us", run.MfccFrameUs, build.Kind));
            s.Latency.Add(new LatencySet("Inference per window", p, "ms", run.InferenceMs, build.Kind));
            double[] e2e = Measurements.KeywordEndToEventMs(run, ctx.KeywordStartS, ctx.KeywordEndS, BlockSamples, 1.0);
            s.Latency.Add(new LatencySet("Keyword end to event", p, "ms", e2e, $"{e2e.Length} of {ctx.KeywordEndS.Length} keywords detected"));
            foreach (LatencySet set in s.Latency.Where(l => l.Platform == p))
            {
                foreach (var (qn, q) in LatencySet.Quantiles)
                {
                    s.Figures.Add(new Figure($"latency.{Slug(set.Metric)}.{p}.{qn}", $"{set.Metric} {qn}, {p}{emulated}", set.At(q), set.Unit));
                }
            }
            s.Figures.Add(new Figure($"latency.keywords_detected.{p}", $"Wake keywords detected in the agent run, {p}{emulated}", e2e.Length, "",
                Note: $"of {ctx.KeywordEndS.Length} in {Path.GetFileName(ctx.PositiveWav)}"));
            s.Figures.Add(new Figure($"memory.agent_peak_rss.{p}", $"Agent peak RSS, {p}{emulated}", run.PeakResidentBytes / 1048576.0, "MiB",
                Note: build.Emulated ? "qemu process: includes the emulator" : build.NativeAot ? "" : "JIT build: includes the JIT and runtime"));
            s.Figures.Add(new Figure($"memory.agent_managed_alloc_per_audio_s.{p}", $"Agent managed bytes allocated per audio second, {p}{emulated}",
                run.ManagedAllocatedBytes / Math.Max(run.AudioSeconds, 1e-9), "B/s", Note: "all threads while listening: pipeline, outbox writer, uplink"));
            if (build.NativeAot)
            {
                s.Figures.Add(new Figure($"memory.aot_binary_bytes.{p}", $"NativeAOT agent binary, {p}", Builds.FileBytes(build.Path) / 1048576.0, "MiB",
                    Note: $"plus libonnxruntime.so {Builds.FileBytes(Path.Combine(Path.GetDirectoryName(build.Path)!, "libonnxruntime.so")) / 1048576.0:0.0} MiB, "
                        + $"libe_sqlite3.so {Builds.FileBytes(Path.Combine(Path.GetDirectoryName(build.Path)!, "libe_sqlite3.so")) / 1048576.0:0.0} MiB"));
            }
            s.Figures.Add(new Figure($"throughput.agent_speed.{p}", $"Agent replay speed (audio s / wall s, all stages), {p}{emulated}", run.AudioSeconds / run.ElapsedSeconds, "x"));
        }
        Measurements.Accuracy? reused = evaluate ? null : Measurements.ReuseEvaluation(manifest, model);
        if (reused is null) ctx.Log($"accuracy: streaming evaluation of {Measurements.ModelLabel(model)} on {ctx.Corpus}");
        s.Accuracy = reused ?? Measurements.Evaluate(manifest, ctx.Corpus);
        s.Figures.Add(new Figure("accuracy.fa_per_hour", "False accepts per hour", s.Accuracy.FaPerHour, "/h"));
        s.Figures.Add(new Figure("accuracy.frr_percent", "False reject rate", s.Accuracy.FalseRejectRate * 100, "%"));
        s.Figures.AddRange(BreakdownFigures(s.Accuracy.Breakdown));
        return s;
    }

    private static async Task<int> ReportAsync(ReportOptions o, TextWriter stdout)
    {
        var machine = Machine.Probe();
        string loadStart = Machine.LoadAverage();
        var started = DateTimeOffset.UtcNow;
        string repo = o.Repo is not null ? Path.GetFullPath(o.Repo) : Builds.FindRepoRoot(Directory.GetCurrentDirectory());
        string manifest = o.Model ?? Builds.DefaultModelManifest(repo);
        KeywordModel model = Measurements.LoadModel(manifest);
        Context ctx = await PrepareAsync(o with { Repo = repo }, stdout, Measurements.Keyword(model));
        AgentBuild x64 = await X64BuildAsync(ctx, repo, Path.Combine(ctx.Work, "publish-linux-x64"));
        AgentBuild? arm64 = null;
        string arm64Note;
        if (o.NoArm64)
        {
            arm64Note = "skipped (--no-arm64)";
        }
        else if (o.AgentArm64 is not null)
        {
            arm64 = new AgentBuild(o.AgentArm64, "arm64", true, true);
            arm64Note = "";
        }
        else if (o.Quick)
        {
            arm64Note = "skipped in --quick (pass --agent-arm64 BIN, e.g. the one scripts/agent-arm64-e2e.sh publishes, to include it)";
        }
        else
        {
            arm64 = new AgentBuild(await Builds.PublishAotAsync(repo, "linux-arm64", Path.Combine(ctx.Work, "publish-linux-arm64"), ctx.Log), "arm64", true, true);
            arm64Note = "";
        }

        SubjectResult s = await MeasureAsync(ctx, Measurements.ModelLabel(model), manifest, x64, arm64, o.Evaluate || o.Quick);

        // In-process: the hot path's allocations and the MFCC real-time factor against torchaudio on one WAV.
        short[] audio = BenchAudio.Generate((int)(o.MfccSeconds * 16000));
        ctx.Log("hot-path allocation (MFCC + detector, this process)");
        s.Figures.Add(new Figure("memory.hot_path_alloc_per_audio_s", "Device hot path (MFCC + detector) managed bytes allocated per audio second",
            Measurements.HotPathAllocatedBytesPerAudioSecond(model, audio[..Math.Min(audio.Length, 16000 * 20)]), "B/s", 0));
        string wav = Path.Combine(ctx.Work, "mfcc-bench.wav");
        Measurements.WriteWav(wav, audio);
        ctx.Log($"MFCC real-time factor: EdgeKws and torchaudio on the same {o.MfccSeconds:0} s WAV");
        int repeats = o.Quick ? 2 : 3;
        double ours = Measurements.EdgeKwsMfccSeconds(audio, repeats);
        var torch = await Measurements.TorchaudioAsync(repo, wav, repeats);
        double audioS = audio.Length / 16000.0;
        s.Figures.Add(new Figure("throughput.mfcc_rtf.edgekws", "MFCC real-time factor, EdgeKws MfccExtractor (10 ms blocks, x64, this process)", ours / audioS, "", Note: "compute s / audio s, lower is better"));
        s.Figures.Add(new Figure("throughput.mfcc_rtf.torchaudio_kaldi", "MFCC real-time factor, torchaudio compliance.kaldi.mfcc (same features)", torch.KaldiWallSeconds / torch.AudioSeconds, ""));
        s.Figures.Add(new Figure("throughput.mfcc_rtf.torchaudio_transforms", "MFCC real-time factor, torchaudio transforms.MFCC (other recipe)", torch.TransformsWallSeconds / torch.AudioSeconds, ""));
        s.Figures.Add(new Figure("throughput.mfcc_speedup_vs_kaldi", "EdgeKws speed-up over torchaudio compliance.kaldi.mfcc", torch.KaldiWallSeconds / torch.AudioSeconds / (ours / audioS), "x"));
        ctx.Log($"gateway ingest: {o.IngestDevices} devices x {o.IngestMessages} messages (EdgeKws.IngestBench, sqlite)");
        var ingest = await Measurements.IngestAsync(repo, o.IngestDevices, o.IngestMessages);
        s.Figures.Add(new Figure("throughput.ingest_msgs_per_s", "Gateway ingest, messages/s (embedded broker + SQLite, QoS 1)", ingest.MessagesPerSecond, "msg/s"));
        s.Figures.Add(new Figure("throughput.ingest_lost", "Gateway ingest, messages lost", ingest.Lost + ingest.Refused, "", 0));
        s.Figures.Add(new Figure("throughput.ingest_p99_ms", "Gateway ingest, publish->commit p99", ingest.P99Ms, "ms"));

        string loadEnd = Machine.LoadAverage();
        Directory.CreateDirectory(o.OutputDirectory);
        WritePlots(o.OutputDirectory, [s]);
        string md = Markdown(o, machine, started, loadStart, loadEnd, manifest, ctx, s, arm64Note, torch, ingest, audioS);
        await File.WriteAllTextAsync(Path.Combine(o.OutputDirectory, ReportFile), md);
        await WriteFiguresAsync(o.OutputDirectory, machine, loadStart, loadEnd, [s]);
        int failed = s.Figures.Count(f => f.Passes == false);
        ctx.Log($"wrote {Path.Combine(o.OutputDirectory, ReportFile)} ({failed} figure(s) over budget)");
        foreach (Figure f in s.Figures.Where(f => f.Budget is not null)) stdout.WriteLine($"  {(f.Passes == true ? "pass" : "FAIL")}  {f.Name}: {f.Formatted} (budget {Figure.Format(f.Budget!.Value, f.Unit)})");
        return 0;
    }

    private static async Task<AgentBuild> X64BuildAsync(Context ctx, string sourceRoot, string publishDir)
    {
        ReportOptions o = ctx.Options;
        if (o.AgentX64 is not null)
        {
            return new AgentBuild(o.AgentX64, "x64", !o.AgentX64.EndsWith(".dll", StringComparison.Ordinal), false);
        }
        return o.Quick
            ? new AgentBuild(await Builds.JitAgentAsync(sourceRoot, ctx.Log), "x64", false, false)
            : new AgentBuild(await Builds.PublishAotAsync(sourceRoot, "linux-x64", publishDir, ctx.Log), "x64", true, false);
    }

    private static async Task<int> CompareAsync(ReportOptions o, TextWriter stdout)
    {
        var machine = Machine.Probe();
        string loadStart = Machine.LoadAverage();
        string repo = o.Repo is not null ? Path.GetFullPath(o.Repo) : Builds.FindRepoRoot(Directory.GetCurrentDirectory());
        string defaultManifest = o.Model ?? Builds.DefaultModelManifest(repo);
        Context ctx = await PrepareAsync(o with { Repo = repo }, stdout, Measurements.Keyword(Measurements.LoadModel(defaultManifest)));
        var worktrees = new List<string>();
        var subjects = new List<SubjectResult>();
        try
        {
            int n = 0;
            foreach (string subject in new[] { o.Compare!.Value.A, o.Compare.Value.B })
            {
                string tag = n++ == 0 ? "A" : "B";
                string manifest = defaultManifest;
                AgentBuild build;
                string label;
                if (subject.EndsWith(".manifest.json", StringComparison.Ordinal) && File.Exists(subject))
                {
                    manifest = Path.GetFullPath(subject);
                    build = await X64BuildAsync(ctx, repo, Path.Combine(ctx.Work, "publish-linux-x64"));
                    label = $"{tag}: model {Path.GetFileName(manifest)}";
                }
                else if (File.Exists(subject))
                {
                    string path = Path.GetFullPath(subject);
                    build = new AgentBuild(path, "x64", !path.EndsWith(".dll", StringComparison.Ordinal), false);
                    label = $"{tag}: agent {path}";
                }
                else
                {
                    string dir = Path.Combine(ctx.Work, "ref-" + tag);
                    if (Directory.Exists(dir)) await Builds.RemoveWorktreeAsync(repo, dir);
                    ctx.Log($"{tag}: git worktree of '{subject}'");
                    await Builds.CheckoutAsync(repo, subject, dir);
                    worktrees.Add(dir);
                    build = o.Quick
                        ? new AgentBuild(await Builds.JitAgentAsync(dir, ctx.Log), "x64", false, false)
                        : new AgentBuild(await Builds.PublishAotAsync(dir, "linux-x64", Path.Combine(ctx.Work, "publish-" + tag), ctx.Log), "x64", true, false);
                    manifest = o.Model ?? Builds.DefaultModelManifest(dir);
                    label = $"{tag}: git {subject}";
                }
                ctx.Log($"measuring {label}");
                subjects.Add(await MeasureAsync(ctx, label, manifest, build, null, o.Evaluate || o.Quick));
            }
        }
        finally
        {
            foreach (string w in worktrees) await Builds.RemoveWorktreeAsync(repo, w);
        }
        string loadEnd = Machine.LoadAverage();
        Directory.CreateDirectory(o.OutputDirectory);
        WritePlots(o.OutputDirectory, subjects);
        string table = CompareTable(subjects[0], subjects[1]);
        var md = new StringBuilder();
        md.AppendLine("# EdgeKws bench: comparison").AppendLine();
        md.AppendLine($"- A = {subjects[0].Label} (model {subjects[0].ModelManifest})");
        md.AppendLine($"- B = {subjects[1].Label} (model {subjects[1].ModelManifest})");
        md.AppendLine($"- Machine: {machine.CpuModel}, {machine.Cores} cores, {machine.RamGiB:0.0} GiB RAM, {machine.Os}, {machine.DotnetRuntime}; load average {loadStart} (start), {loadEnd} (end)");
        md.AppendLine($"- Same audio for both: {Path.GetFileName(ctx.PositiveWav)} of {ctx.Corpus}; linux-x64 only (no emulated arm64 in --compare).").AppendLine();
        foreach (SubjectResult sub in subjects)
        {
            md.AppendLine($"- Accuracy of {sub.Label[..1]}: {sub.Accuracy!.Source}; set: {sub.Accuracy.EvaluationSet}.");
        }
        if (subjects[0].Accuracy!.EvaluationSet != subjects[1].Accuracy!.EvaluationSet)
        {
            md.AppendLine("- **The two accuracy figures come from different evaluation sets**, so their ratio is not a like-for-like comparison: " +
                          "add `--evaluate` to evaluate both on the same held-out streams of this run's corpus.");
        }
        md.AppendLine();
        md.AppendLine(table);
        md.AppendLine().AppendLine($"![latency]({LatencyPlot}) ![memory]({MemoryPlot}) ![DET]({DetPlotFile})");
        await File.WriteAllTextAsync(Path.Combine(o.OutputDirectory, CompareFile), md.ToString());
        await WriteFiguresAsync(o.OutputDirectory, machine, loadStart, loadEnd, subjects);
        stdout.WriteLine(table);
        if (subjects[0].Accuracy!.EvaluationSet != subjects[1].Accuracy!.EvaluationSet)
        {
            stdout.WriteLine("note: A and B accuracy come from different evaluation sets; add --evaluate for the same streams.");
        }
        ctx.Log($"wrote {Path.Combine(o.OutputDirectory, CompareFile)}");
        return 0;
    }

    public static string CompareTable(SubjectResult a, SubjectResult b)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| figure | A | B | B/A |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (Figure fa in a.Figures)
        {
            Figure? fb = b.Figures.FirstOrDefault(f => f.Key == fa.Key);
            if (fb is null) continue;
            string ratio = fa.Value != 0 && double.IsFinite(fa.Value) && double.IsFinite(fb.Value) ? (fb.Value / fa.Value).ToString("0.###", CultureInfo.InvariantCulture) : "n/a";
            sb.AppendLine($"| {fa.Name} | {fa.Formatted} | {fb.Formatted} | {ratio} |");
        }
        return sb.ToString();
    }

    private static void WritePlots(string dir, IReadOnlyList<SubjectResult> subjects)
    {
        bool compare = subjects.Count > 1;
        var panels = new List<Plots.Panel>();
        foreach (string metric in subjects[0].Latency.Select(l => l.Metric).Distinct())
        {
            var groups = new List<(string, double[])>();
            string unit = "";
            foreach (SubjectResult s in subjects)
            {
                foreach (LatencySet set in s.Latency.Where(l => l.Metric == metric))
                {
                    unit = set.Unit;
                    string label = (compare ? s.Label[..1] + " " : "") + set.Platform + (set.Platform == "arm64" ? " (EMULATED)" : "");
                    groups.Add((label, [.. LatencySet.Quantiles.Select(q => set.At(q.Q))]));
                }
            }
            panels.Add(new Plots.Panel(metric.ToUpperInvariant(), unit.ToUpperInvariant(), groups));
        }
        File.WriteAllBytes(Path.Combine(dir, LatencyPlot), Plots.PercentileBars("LATENCY PERCENTILES (LOG SCALE)", [.. LatencySet.Quantiles.Select(q => q.Name.ToUpperInvariant())], panels));

        var bars = new List<Plots.Bar>();
        foreach (SubjectResult s in subjects)
        {
            foreach (Figure f in s.Figures.Where(f => f.Key.StartsWith("memory.", StringComparison.Ordinal) && f.Unit == "B"))
            {
                string name = f.Key switch
                {
                    "memory.mfcc_state_bytes" => "MFCC state",
                    "memory.model_bytes" => "model",
                    "memory.detector_working_bytes" => "detector working memory",
                    "memory.enrollment_state_bytes" => "enrollment state",
                    _ => f.Key,
                };
                bars.Add(new Plots.Bar((compare ? s.Label[..1] + " " : "") + name, f.Value, f.Budget));
            }
        }
        File.WriteAllBytes(Path.Combine(dir, MemoryPlot), Plots.BudgetBars("DEVICE MEMORY VS BUDGET (16 KB PREPROCESSING, 64 KB MODEL)", bars, "KiB", 1024));

        (byte, byte, byte)[] colours = [(31, 119, 180), (214, 39, 40)];
        var series = new List<DetPlotSeries>();
        double negHours = 0;
        for (int i = 0; i < subjects.Count; i++)
        {
            var acc = subjects[i].Accuracy!;
            negHours = Math.Max(negHours, acc.NegativeHours);
            var deployed = acc.Curve.Length == 0 ? default : acc.Curve.MinBy(p => Math.Abs(p.Threshold - acc.Threshold));
            string label = compare ? subjects[i].Label[..1] : Path.GetFileName(subjects[i].ModelManifest).Replace(".int8.manifest.json", "", StringComparison.Ordinal);
            series.Add(new DetPlotSeries(label.ToUpperInvariant(), acc.Curve, deployed, colours[i % 2].Item1, colours[i % 2].Item2, colours[i % 2].Item3));
        }
        var first = subjects[0].Accuracy!;
        string title = compare
            ? "DET CURVES, HELD-OUT STREAMS: A BLUE, B RED"
            : string.Create(CultureInfo.InvariantCulture, $"DET, HELD-OUT STREAMS: {first.FaPerHour:0.#} FA/H, FRR {first.FalseRejectRate * 100:0.#}% AT {first.Threshold:0.###}");
        File.WriteAllBytes(Path.Combine(dir, DetPlotFile), DetPlot.Render(title, series, negHours));
    }

    private static async Task WriteFiguresAsync(string dir, Machine machine, string loadStart, string loadEnd, IReadOnlyList<SubjectResult> subjects)
    {
        await using var stream = File.Create(Path.Combine(dir, FiguresFile));
        await using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("format", "edgekws-bench/1");
        w.WriteString("cpu", machine.CpuModel);
        w.WriteNumber("cores", machine.Cores);
        w.WriteString("os", machine.Os);
        w.WriteString("dotnet", machine.DotnetRuntime);
        w.WriteString("loadAverageStart", loadStart);
        w.WriteString("loadAverageEnd", loadEnd);
        w.WriteStartArray("subjects");
        foreach (SubjectResult s in subjects)
        {
            w.WriteStartObject();
            w.WriteString("label", s.Label);
            w.WriteString("model", Path.GetFileName(s.ModelManifest));
            w.WriteStartObject("figures");
            foreach (Figure f in s.Figures)
            {
                if (double.IsFinite(f.Value)) w.WriteNumber(f.Key, Math.Round(f.Value, 6));
                else w.WriteNull(f.Key);
            }
            w.WriteEndObject();
            if (s.Accuracy?.Breakdown is { } breakdown)
            {
                w.WritePropertyName("accuracyBreakdown");
                JsonSerializer.Serialize(w, breakdown, EvaluationJsonContext.Default.EvaluationBreakdown);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static string Slug(string metric) => metric.ToLowerInvariant().Replace(' ', '_');

    /// <summary>The tags the report breaks FRR down by (voice is left to evaluation.json: dozens of rows).</summary>
    private static readonly string[] ReportTags = [StreamTags.Engine, StreamTags.Room, StreamTags.Snr];

    /// <summary>The breakdown as figures (intervals, FRR per engine/room/SNR, FA/hour per negative kind), so --compare lines them up.</summary>
    private static IEnumerable<Figure> BreakdownFigures(EvaluationBreakdown? b)
    {
        if (b is null) yield break;
        yield return new Figure("accuracy.frr_percent.low95", "False reject rate, 95 % interval low (Wilson)", b.OverallFrr.FrrLow95 * 100, "%");
        yield return new Figure("accuracy.frr_percent.high95", "False reject rate, 95 % interval high (Wilson)", b.OverallFrr.FrrHigh95 * 100, "%");
        yield return new Figure("accuracy.fa_per_hour.low95", "False accepts per hour, 95 % interval low (exact Poisson)", b.OverallFaPerHour.FaLow95, "/h");
        yield return new Figure("accuracy.fa_per_hour.high95", "False accepts per hour, 95 % interval high (exact Poisson)", b.OverallFaPerHour.FaHigh95, "/h");
        foreach (FrrByTag t in b.FrrBy.Where(t => ReportTags.Contains(t.Tag)))
        {
            foreach (FrrGroup g in t.Groups)
            {
                yield return new Figure($"accuracy.frr_percent.{t.Tag}.{Slug(g.Value)}", $"False reject rate, {t.Tag} {g.Value}", g.Frr * 100, "%",
                    Note: string.Create(CultureInfo.InvariantCulture, $"{g.Missed}/{g.Keywords} missed, 95 % [{g.FrrLow95 * 100:0.#}, {g.FrrHigh95 * 100:0.#}] %"));
            }
        }
        foreach (FaKindGroup k in b.FaPerHourByKind)
        {
            yield return new Figure($"accuracy.fa_per_hour.kind.{Slug(k.Kind)}", $"False accepts per hour, {k.Kind}", k.FaPerHour, "/h",
                Note: string.Create(CultureInfo.InvariantCulture, $"{k.FalseAccepts} in {k.Hours:0.###} h, 95 % [{k.FaLow95:0.###}, {k.FaHigh95:0.###}]"));
        }
    }

    /// <summary>The Markdown breakdown tables: overall with intervals, FRR by engine, room and SNR, FA/hour by negative kind.</summary>
    public static string BreakdownMarkdown(EvaluationBreakdown? b)
    {
        var md = new StringBuilder();
        md.AppendLine("### Accuracy breakdown").AppendLine();
        if (b is null)
        {
            md.AppendLine("No breakdown: the reused evaluation was written before `edgekws-model evaluate` reported one; run with `--evaluate`.").AppendLine();
            return md.ToString();
        }
        string Pct(double x) => double.IsNaN(x) ? "n/a" : (x * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %";
        string Rate(double x) => double.IsNaN(x) ? "n/a" : x.ToString(x >= 100 ? "0" : x >= 10 ? "0.#" : x >= 1 ? "0.##" : "0.###", CultureInfo.InvariantCulture);
        var o = b.OverallFrr;
        var f = b.OverallFaPerHour;
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"At threshold {b.Threshold:0.####}, {b.Confidence * 100:0} % intervals (FRR: Wilson score; FA/hour: exact Poisson): FRR **{Pct(o.Frr)}** [{Pct(o.FrrLow95)}, {Pct(o.FrrHigh95)}] ({o.Missed}/{o.Keywords} missed), " +
            $"**{Rate(f.FaPerHour)} FA/hour** [{Rate(f.FaLow95)}, {Rate(f.FaHigh95)}] ({f.FalseAccepts} in {f.Hours:0.###} h).")).AppendLine();
        foreach (string tag in ReportTags)
        {
            FrrByTag? t = b.FrrBy.FirstOrDefault(x => x.Tag == tag);
            if (t is null) continue;
            md.AppendLine($"| FRR by {(tag == StreamTags.Snr ? "SNR" : tag)} | keywords | missed | FRR | 95 % interval |").AppendLine("|---|---:|---:|---:|---|");
            foreach (FrrGroup g in t.Groups) md.AppendLine($"| {g.Value} | {g.Keywords} | {g.Missed} | {Pct(g.Frr)} | {Pct(g.FrrLow95)} - {Pct(g.FrrHigh95)} |");
            md.AppendLine();
        }
        if (b.FaPerHourByKind.Count > 0)
        {
            md.AppendLine("| FA/hour by negative kind | hours | false accepts | FA/hour | 95 % interval |").AppendLine("|---|---:|---:|---:|---|");
            foreach (FaKindGroup k in b.FaPerHourByKind)
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {k.Kind} | {k.Hours:0.####} | {k.FalseAccepts} | {Rate(k.FaPerHour)} | {Rate(k.FaLow95)} - {Rate(k.FaHigh95)} |"));
            md.AppendLine();
        }
        md.AppendLine("- A false accept in a negative stream counts for the segment whose [start, end + tolerance] holds the detection (the latest-starting one), " +
                      "else \"gap\"; false accepts in positive streams count as \"positive-background\". Tags and segments come from the corpus manifest (docs/model-loop.md).").AppendLine();
        return md.ToString();
    }

    private static string Markdown(ReportOptions o, Machine m, DateTimeOffset started, string loadStart, string loadEnd, string manifest, Context ctx,
        SubjectResult s, string arm64Note, Measurements.TorchaudioResult torch, Measurements.IngestResult ingest, double mfccAudioS)
    {
        var md = new StringBuilder();
        md.AppendLine("# EdgeKws bench report").AppendLine();
        md.AppendLine($"Mode: **{(o.Quick ? "quick (CI smoke run: short clips, JIT agent; not for quoting)" : "full")}**. Started {started:yyyy-MM-dd HH:mm} UTC. " +
                      $"Model: `{Path.GetFileName(manifest)}`. Command: `edgekws-bench {string.Join(' ', o.CommandLine)}` (see docs/benchmarks.md).").AppendLine();
        md.AppendLine("## Machine").AppendLine();
        md.AppendLine("| | |").AppendLine("|---|---|");
        md.AppendLine($"| CPU | {m.CpuModel} |");
        md.AppendLine($"| Cores | {m.Cores} |");
        md.AppendLine($"| RAM | {m.RamGiB:0.0} GiB |");
        md.AppendLine($"| OS | {m.Os} (kernel {m.Kernel}, {m.Architecture}) |");
        md.AppendLine($"| .NET | {m.DotnetRuntime} |");
        md.AppendLine($"| Load average (1/5/15 min) | {loadStart} at start, {loadEnd} at end |");
        md.AppendLine($"| linux-x64 agent | {s.AgentRuns[0].Build.Kind} |");
        md.AppendLine($"| linux-arm64 agent | {(s.AgentRuns.Count > 1 ? s.AgentRuns[1].Build.Kind + " (fake Cortex-A76 /proc/cpuinfo); every arm64 figure is EMULATED, not a board figure" : arm64Note)} |");
        md.AppendLine();

        md.AppendLine("## Memory").AppendLine();
        md.AppendLine("| what | value | budget | result | note |").AppendLine("|---|---:|---:|---|---|");
        foreach (Figure f in s.Figures.Where(f => f.Key.StartsWith("memory.", StringComparison.Ordinal)))
        {
            string budget = f.Budget is { } b ? Figure.Format(b, f.Unit) : "-";
            string result = f.Passes switch { true => "pass", false => "**FAIL**", null => "-" };
            md.AppendLine($"| {f.Name} | {f.Formatted} | {budget} | {result} | {f.Note} |");
        }
        md.AppendLine().AppendLine($"![memory vs budget]({MemoryPlot})").AppendLine();
        md.AppendLine("Budgets: 16 KB for preprocessing state (the MFCC front end), 64 KB for the model file (the agent's `Detection.ModelBudgetBytes`). " +
                      "The detector's working memory is managed buffers only; ONNX Runtime's native memory shows in the RSS. " +
                      "The hot-path figure must be 0: MFCC and detector pushes (inferences included) allocate nothing per frame.").AppendLine();

        md.AppendLine("## Latency").AppendLine();
        md.AppendLine("| measurement | platform | n | p50 | p95 | p99 | p99.9 | note |").AppendLine("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (LatencySet l in s.Latency)
        {
            string P(double q) => l.Count == 0 ? "n/a" : Figure.Format(l.At(q), l.Unit) + (l.TailResolved(q) ? "" : " (max)");
            string platform = l.Platform == "arm64" ? "linux-arm64 **EMULATED**" : "linux-x64";
            md.AppendLine($"| {l.Metric} | {platform} | {l.Count} | {P(0.5)} | {P(0.95)} | {P(0.99)} | {P(0.999)} | {l.Note} |");
        }
        md.AppendLine().AppendLine($"![latency percentiles]({LatencyPlot})").AppendLine();
        md.AppendLine($"- Measured by the agent itself (`edgekws-agent --fast --latency-out F --time-frontend`) on `{Path.GetFileName(ctx.PositiveWav)}` of the corpus " +
                      $"({ctx.KeywordEndS.Length} wake keywords at known times). MFCC per frame and inference per window: the product classes timed one hop / one window at a time " +
                      $"(first {o.FrontEndSeconds(false):0} s; {o.FrontEndSeconds(true):0} s emulated). The pipeline's own inference p50/p99 during the run: " +
                      string.Join(", ", s.AgentRuns.Select(r => $"{r.Build.Platform} {r.PipelineInferenceP50Ms:0.###}/{r.PipelineInferenceP99Ms:0.###} ms")) + ".");
        md.AppendLine($"- Keyword end to event = (end of the {BlockSamples}-sample capture block holding the detector's keyword end - the true keyword end) + the agent's " +
                      "decision latency (block delivered -> event): the time from the speaker finishing the keyword to the event in live capture. It can be negative " +
                      "when the detector fires before the keyword's synthetic tail has decayed. Only detected keywords count (FRR is in Accuracy).");
        md.AppendLine("- \"(max)\" marks a percentile the sample count cannot resolve (p99.9 needs 1,000 samples): it is the largest sample.").AppendLine();

        md.AppendLine("## Throughput").AppendLine();
        md.AppendLine("| what | value | note |").AppendLine("|---|---:|---|");
        foreach (Figure f in s.Figures.Where(f => f.Key.StartsWith("throughput.", StringComparison.Ordinal)))
        {
            md.AppendLine($"| {f.Name} | {f.Formatted} | {f.Note} |");
        }
        md.AppendLine();
        md.AppendLine($"- MFCC: one {mfccAudioS:0} s generated WAV (`BenchAudio`), timed in this process (EdgeKws, best of runs after a warm-up, one thread) and by " +
                      $"`tools/parity/bench_torchaudio.py --wav` ({torch.Versions}, best of runs) in the same run. Real-time factor = compute seconds / audio seconds.");
        md.AppendLine($"- Ingest: `EdgeKws.IngestBench ingest --target sqlite --devices {ingest.Devices} --messages {ingest.MessagesPerDevice}`: " +
                      $"`{ingest.Line}`").AppendLine();

        md.AppendLine("## Accuracy").AppendLine();
        var a = s.Accuracy!;
        md.AppendLine("| what | value |").AppendLine("|---|---:|");
        md.AppendLine($"| False accepts per hour | {a.FaPerHour:0.###} ({a.FalseAccepts} in {a.NegativeHours:0.###} h; resolution {a.Resolution:0.###}/h) |");
        md.AppendLine($"| False reject rate | {a.FalseRejectRate * 100:0.##} % ({a.Missed} of {a.Keywords} keywords missed) |");
        md.AppendLine($"| Threshold | {a.Threshold:0.###} |");
        md.AppendLine().AppendLine($"![DET curve]({DetPlotFile})").AppendLine();
        md.AppendLine($"- Source: {a.Source}. Set: {a.EvaluationSet}. Held-out (test-split) speakers only; the streaming evaluator runs the device front end and detector.");
        md.AppendLine("- Keyword spotting goal: 0.5 FA/hour at 5 % FRR (the dashed box on the plot).").AppendLine();
        md.Append(BreakdownMarkdown(a.Breakdown));
        return md.ToString();
    }
}

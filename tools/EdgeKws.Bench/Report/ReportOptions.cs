using System.CommandLine;
using System.Globalization;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.Bench.Report;

/// <summary>Options of <c>edgekws-bench report</c>.</summary>
public sealed record ReportOptions
{
    public required string OutputDirectory { get; init; }
    public bool Quick { get; init; }
    public string? Model { get; init; }
    public string? Corpus { get; init; }
    public bool Evaluate { get; init; }
    public string? AgentX64 { get; init; }
    public string? AgentArm64 { get; init; }
    public bool NoArm64 { get; init; }
    public (string A, string B)? Compare { get; init; }
    public int IngestDevices { get; init; }
    public int IngestMessages { get; init; }
    public string? Repo { get; init; }

    /// <summary>The arguments as given (the report quotes them), paths relative to the repository where they were.</summary>
    public IReadOnlyList<string> CommandLine { get; init; } = ["report"];

    /// <summary>Seconds of generated audio for the MFCC real-time factor (EdgeKws and torchaudio on the same WAV).</summary>
    public double MfccSeconds => Quick ? 20 : 300;

    /// <summary>Seconds of the positive stream the agent's --time-frontend pass times.</summary>
    public double FrontEndSeconds(bool emulated) => Quick ? 15 : emulated ? 60 : 300;

    /// <summary>
    /// The <c>report</c> command: its options, their checks (a bad value is a usage error, exit 2) and the action that
    /// measures and writes the report (<see cref="ReportCommand.RunAsync"/>).
    /// </summary>
    public static Command CreateCommand()
    {
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "where report.md, the PNG plots and figures.json go (work files under DIR/work)" };
        Option<bool> quickOption = new("--quick") { Description = "seconds to a couple of minutes: JIT agent, small generated corpus, short clips, arm64 only with --agent-arm64 (the CI test runs this)" };
        Option<string> modelOption = ExistingFile("--model", "MANIFEST", "model to measure (default: the device manifest in models/default, found by glob)");
        Option<string> corpusOption = new Option<string>("--corpus") { HelpName = "DIR", Description = "corpus with test streams (default: generate one under DIR/work/corpus)" }
            .MustBe(c => File.Exists(Path.Combine(c, "manifest.json")), "a directory written by edgekws-corpus generate (with manifest.json)");
        Option<bool> evaluateOption = new("--evaluate")
        {
            Description = "re-run the streaming evaluator on the corpus for FA/hour, FRR and the DET curve (default: reuse the model's own evaluation next to its manifest; --quick always evaluates)",
        };
        Option<string> agentOption = ExistingFile("--agent", "PATH", "linux-x64 agent to measure: a NativeAOT binary or an edgekws-agent.dll (JIT) (default: publish NativeAOT now; --quick: the Release JIT build)");
        Option<string> arm64Option = ExistingFile("--agent-arm64", "PATH", "linux-arm64 NativeAOT agent to run under qemu (default: publish now, not in --quick)");
        Option<bool> noArm64Option = new("--no-arm64") { Description = "skip the emulated linux-arm64 measurements" };
        Option<string[]> compareOption = new("--compare")
        {
            HelpName = "A B",
            Arity = new ArgumentArity(2, 2),
            AllowMultipleArgumentsPerToken = true,
            Description = "measure two subjects side by side and print B/A per figure. Each is a model manifest (*.manifest.json), an agent binary / edgekws-agent.dll, "
                + "or a git ref (its agent is published from a temporary worktree and its models/default used)",
        };
        Option<(int Devices, int Messages)?> ingestOption = new("--ingest")
        {
            HelpName = "D,M",
            Description = "gateway ingest: D devices x M messages (1..1000, 1..1000000; default 20,500; --quick 4,50)",
            CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                string[] p = value.Split(',');
                if (p.Length != 2 || !int.TryParse(p[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int d) || d is < 1 or > 1000
                    || !int.TryParse(p[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int m) || m is < 1 or > 1_000_000)
                {
                    result.AddError($"--ingest takes DEVICES,MESSAGES (1..1000, 1..1000000), got '{value}'.");
                    return null;
                }

                return (d, m);
            },
        };
        Option<string> repoOption = new("--repo") { HelpName = "DIR", Description = "repository root (default: found above the current directory)" };
        var command = new Command("report", "Measures and writes the bench report: report.md, the PNG plots and figures.json (docs/benchmarks.md \"Figures\").")
        {
            outOption, quickOption, modelOption, corpusOption, evaluateOption, agentOption, arm64Option, noArm64Option, compareOption, ingestOption, repoOption,
        };
        command.Requires(outOption);
        command.SetAction(parse =>
        {
            bool quick = parse.GetValue(quickOption);
            (int D, int M) ingest = parse.GetValue(ingestOption) ?? (quick ? (4, 50) : (20, 500));
            string[]? compare = parse.GetValue(compareOption);
            var options = new ReportOptions
            {
                OutputDirectory = Path.GetFullPath(parse.GetRequiredValue(outOption)),
                Quick = quick,
                Model = FullPath(parse.GetValue(modelOption)),
                Corpus = parse.GetValue(corpusOption),
                Evaluate = parse.GetValue(evaluateOption),
                AgentX64 = FullPath(parse.GetValue(agentOption)),
                AgentArm64 = FullPath(parse.GetValue(arm64Option)),
                NoArm64 = parse.GetValue(noArm64Option),
                Compare = compare is [string a, string b] ? (a, b) : null,
                IngestDevices = ingest.D,
                IngestMessages = ingest.M,
                Repo = parse.GetValue(repoOption),
                CommandLine = [.. parse.Tokens.Select(t => t.Value)],
            };
            return ReportCommand.RunAsync(options, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error).GetAwaiter().GetResult();
        });
        return command;
    }

    private static Option<string> ExistingFile(string name, string helpName, string description) =>
        new Option<string>(name) { HelpName = helpName, Description = description }.MustBe(File.Exists, "an existing file");

    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path);
}

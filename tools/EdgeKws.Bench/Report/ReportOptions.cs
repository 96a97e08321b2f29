using System.Globalization;

namespace EdgeKws.Bench.Report;

/// <summary>Options of <c>edgekws-bench report</c>.</summary>
public sealed record ReportOptions
{
    public const string Usage = """
        usage: edgekws-bench report --out DIR [options]
          --out DIR             where report.md, the PNG plots and figures.json go (work files under DIR/work)
          --quick               seconds to a couple of minutes: JIT agent, small generated corpus, short clips,
                                arm64 only with --agent-arm64 (the CI test runs this)
          --model MANIFEST      model to measure (default: the device manifest in models/default, found by glob)
          --corpus DIR          corpus with test streams (default: generate one under DIR/work/corpus)
          --evaluate            re-run the streaming evaluator on the corpus for FA/hour, FRR and the DET curve
                                (default: reuse the model's own evaluation next to its manifest; --quick always evaluates)
          --agent PATH          linux-x64 agent to measure: a NativeAOT binary or an edgekws-agent.dll (JIT)
                                (default: publish NativeAOT now; --quick: the Release JIT build)
          --agent-arm64 PATH    linux-arm64 NativeAOT agent to run under qemu (default: publish now, not in --quick)
          --no-arm64            skip the emulated linux-arm64 measurements
          --compare A B         measure two subjects side by side and print B/A per figure. Each is a model
                                manifest (*.manifest.json), an agent binary / edgekws-agent.dll, or a git ref
                                (its agent is published from a temporary worktree and its models/default used)
          --ingest D,M          gateway ingest: D devices x M messages (default 20,500; --quick 4,50)
          --repo DIR            repository root (default: found above the current directory)
        """;

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

    /// <summary>Parses <c>report ...</c>; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static ReportOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] != "report") throw new ArgumentException("the command is 'report'");
        string? output = null, model = null, corpus = null, agent = null, arm64 = null, repo = null;
        bool quick = false, evaluate = false, noArm64 = false;
        (string, string)? compare = null;
        (int D, int M)? ingest = null;
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            string Value() => ++i < args.Count && !args[i].StartsWith("--", StringComparison.Ordinal) ? args[i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--out": output = Value(); break;
                case "--quick": quick = true; break;
                case "--model": model = ExistingFile(a, Value()); break;
                case "--corpus": corpus = Value(); break;
                case "--evaluate": evaluate = true; break;
                case "--agent": agent = ExistingFile(a, Value()); break;
                case "--agent-arm64": arm64 = ExistingFile(a, Value()); break;
                case "--no-arm64": noArm64 = true; break;
                case "--repo": repo = Value(); break;
                case "--compare":
                    compare = (Value(), Value());
                    break;
                case "--ingest":
                    string[] p = Value().Split(',');
                    if (p.Length != 2 || !int.TryParse(p[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int d) || d is < 1 or > 1000
                        || !int.TryParse(p[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int m) || m is < 1 or > 1_000_000)
                        throw new ArgumentException($"--ingest takes DEVICES,MESSAGES (1..1000, 1..1000000), got '{string.Join(',', p)}'");
                    ingest = (d, m);
                    break;
                default: throw new ArgumentException($"unknown option '{a}'");
            }
        }
        if (output is null) throw new ArgumentException("--out DIR is required");
        if (corpus is not null && !File.Exists(Path.Combine(corpus, "manifest.json")))
            throw new ArgumentException($"--corpus: '{corpus}' has no manifest.json (a directory written by edgekws-corpus generate)");
        (int D, int M) ing = ingest ?? (quick ? (4, 50) : (20, 500));
        return new ReportOptions
        {
            OutputDirectory = Path.GetFullPath(output), Quick = quick, Model = model, Corpus = corpus, Evaluate = evaluate, AgentX64 = agent,
            AgentArm64 = arm64, NoArm64 = noArm64, Compare = compare, IngestDevices = ing.D, IngestMessages = ing.M, Repo = repo,
            CommandLine = [.. args],
        };
    }

    private static string ExistingFile(string option, string path) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw new ArgumentException($"{option}: file '{path}' does not exist");
}

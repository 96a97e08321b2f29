using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;

namespace EdgeKws.Agent;

/// <summary>
/// The agent's command line (System.CommandLine: no reflection, trim/AOT-clean): the options, their checks, and the values a
/// run gets. Parse errors (unknown option, missing <c>--config</c>, a value out of range, options that exclude each other)
/// print to stderr and exit 2, like a bad configuration value.
/// </summary>
internal sealed class AgentArguments
{
    /// <summary>Upper bound of every seconds option (about 116 days): a typo in the exponent is refused, not waited out.</summary>
    private const double MaxSeconds = 1e7;

    public string? ConfigPath { get; private init; }
    public string? WavPath { get; private init; }
    public bool Fast { get; private init; }
    public bool Stdin { get; private init; }
    public TimeSpan? Duration { get; private init; }
    public string? ModelManifest { get; private init; }
    public string? ModelsDirectory { get; private init; }
    public TimeSpan Drain { get; private init; }
    public bool LogEnqueues { get; private init; }
    public bool Quiet { get; private init; }
    public string? LatencyOut { get; private init; }
    public bool TimeFrontEnd { get; private init; }
    public double TimeFrontEndSeconds { get; private init; }

    /// <summary>Parses <paramref name="args"/> and runs <paramref name="run"/> with the values; <c>--help</c> prints the options
    /// on <paramref name="stdout"/> and returns 0; a parse error prints on <paramref name="stderr"/> and returns
    /// <see cref="AgentHost.ExitBadConfiguration"/>.</summary>
    public static int Invoke(string[] args, Func<AgentArguments, int> run, TextWriter stdout, TextWriter stderr)
    {
        // No @response-file expansion: every token means what it says (a path may start with '@').
        ParseResult parsed = CreateCommand(run).Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Action is ParseErrorAction)
        {
            foreach (ParseError error in parsed.Errors)
            {
                stderr.WriteLine($"edgekws-agent: {error.Message}");
            }
            stderr.WriteLine("Run 'edgekws-agent --help' for the options.");
            return AgentHost.ExitBadConfiguration;
        }
        // The agent handles SIGTERM/SIGINT itself (graceful stop) and lets an unexpected exception crash as before.
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
    }

    private static RootCommand CreateCommand(Func<AgentArguments, int> run)
    {
        var config = new Option<string>("--config")
        {
            Description = "Agent configuration (JSON; EDGEKWS_Section__Key environment variables override it).",
            HelpName = "PATH",
            Required = true,
        };
        var wav = new Option<string>("--wav") { Description = "Replay a WAV file instead of the configured source (Audio.Source=wav).", HelpName = "PATH" };
        var fast = new Option<bool>("--fast") { Description = "Replay as fast as possible (Audio.RealTime=false); heartbeats follow audio time." };
        var stdin = new Option<bool>("--stdin") { Description = "Read raw S16LE 16 kHz mono PCM from standard input (Audio.Source=stdin)." };
        var duration = Seconds("--duration", "Stop after this much wall time (graceful, as on SIGTERM).", null);
        var model = new Option<string>("--model") { Description = "Model manifest (.manifest.json) to load.", HelpName = "PATH" };
        var modelsDir = new Option<string>("--models-dir")
        {
            Description = "Load the first *.manifest.json in DIR, by name (default: StateDirectory/models).",
            HelpName = "DIR",
        };
        var drain = Seconds("--drain-seconds", "At shutdown, wait up to N s for the outbox to drain.", 5);
        var logEnqueues = new Option<bool>("--log-enqueues") { Description = "Print \"E <sequence> <class>\" on stdout after every accepted enqueue." };
        var quiet = new Option<bool>("--quiet") { Description = "No per-detection lines." };
        var latencyOut = new Option<string>("--latency-out")
        {
            Description = "Write raw timing samples as JSON at the end (every detection's decision latency and keyword end, managed bytes " +
                "allocated while listening; for the bench).",
            HelpName = "PATH",
        };
        var timeFrontEnd = new Option<bool>("--time-frontend")
        {
            Description = "With --latency-out and a WAV source: first time per-frame MFCC and per-window inference of the same model over the " +
                "WAV (at most --time-frontend-seconds).",
        };
        var timeFrontEndSeconds = Seconds("--time-frontend-seconds", "How much of the WAV --time-frontend times.", 60);

        var command = new RootCommand("""
            edgekws-agent: the EdgeKws device agent (listen, detect, store and forward over MQTT).
            Exit codes: 0 done, 1 runtime failure, 2 bad configuration or arguments, 3 model refused.
            """)
        {
            config, wav, fast, stdin, duration, model, modelsDir, drain, logEnqueues, quiet, latencyOut, timeFrontEnd, timeFrontEndSeconds,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(wav) is not null && result.GetValue(stdin)) result.AddError("--wav and --stdin exclude each other");
            if (result.GetValue(model) is not null && result.GetValue(modelsDir) is not null) result.AddError("--model and --models-dir exclude each other");
            if (result.GetValue(timeFrontEnd) && result.GetValue(latencyOut) is null)
            {
                result.AddError("--time-frontend needs --latency-out PATH (where the timings go)");
            }
        });
        command.SetAction(parse => run(new AgentArguments
        {
            ConfigPath = parse.GetValue(config),
            WavPath = parse.GetValue(wav),
            Fast = parse.GetValue(fast),
            Stdin = parse.GetValue(stdin),
            Duration = parse.GetResult(duration) is null ? null : TimeSpan.FromSeconds(parse.GetValue(duration)),
            ModelManifest = parse.GetValue(model),
            ModelsDirectory = parse.GetValue(modelsDir),
            Drain = TimeSpan.FromSeconds(parse.GetValue(drain)),
            LogEnqueues = parse.GetValue(logEnqueues),
            Quiet = parse.GetValue(quiet),
            LatencyOut = parse.GetValue(latencyOut),
            TimeFrontEnd = parse.GetValue(timeFrontEnd),
            TimeFrontEndSeconds = parse.GetValue(timeFrontEndSeconds),
        }));
        return command;
    }

    /// <summary>A number of seconds in 0..<see cref="MaxSeconds"/>; the error names the option and the range.</summary>
    private static Option<double> Seconds(string name, string description, double? defaultValue)
    {
        var option = new Option<double>(name) { Description = description, HelpName = "SECONDS" };
        if (defaultValue is { } d)
        {
            option.DefaultValueFactory = _ => d;
        }
        option.Validators.Add(result =>
        {
            // Text that is no number at all is the parser's own error (exit 2 as well); this checks the range of a number.
            if (result.Tokens.Count > 0 && double.TryParse(result.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double s)
                && !(s is >= 0 and <= MaxSeconds))
            {
                result.AddError($"{name}: '{result.Tokens[^1].Value}' is not a number of seconds in 0..{MaxSeconds:0}");
            }
        });
        return option;
    }
}

using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;

namespace EdgeKws.Enroll;

/// <summary>Where the takes come from.</summary>
internal enum InputKind
{
    Alsa,
    Wav,
    Stdin,
}

/// <summary>
/// The command line (System.CommandLine: no reflection, trim/AOT-clean) and the values a run gets. A parse error (unknown option,
/// unparsable or out-of-range value, inputs that exclude each other) prints on stderr and exits <see cref="ExitCodes.Usage"/>.
/// </summary>
internal sealed class CliOptions
{
    private const string Description = """
        edgekws-enroll: record and check the wake-phrase takes of this device's enrollment.
          edgekws-enroll [options]                      record from the ALSA microphone
          edgekws-enroll [options] --wav a.wav b.wav …  one WAV file per attempt, in order
          edgekws-enroll [options] --stdin              raw S16_LE 16 kHz mono on stdin
        Exit codes: 0 enrolled, 1 enrollment failed QC (previous enrollment kept), 2 usage or config error,
          3 no microphone / audio device, 4 bad WAV file, 5 could not store the enrollment, 130 interrupted (previous enrollment kept).
        """;

    public InputKind Input { get; private init; } = InputKind.Alsa;
    public IReadOnlyList<string> WavFiles { get; private init; } = [];
    public string? AlsaDevice { get; private init; }
    public int? ListenTimeoutMs { get; private init; }
    public int? Takes { get; private init; }
    public int? MaxAttempts { get; private init; }
    public string? Phrase { get; private init; }
    public string? PhraseConfigPath { get; private init; }
    public int? MinMs { get; private init; }
    public int? MaxMs { get; private init; }
    public double? MaxDtw { get; private init; }
    public string? ConfigPath { get; private init; }
    public string? StateDir { get; private init; }
    public string? DeviceId { get; private init; }
    public bool NoOutbox { get; private init; }
    public bool Json { get; private init; }

    /// <summary>Parses <paramref name="args"/> and runs <paramref name="run"/> with the values; <c>--help</c> prints the options on
    /// <paramref name="stdout"/> and returns 0; a parse error prints on <paramref name="stderr"/> and returns <see cref="ExitCodes.Usage"/>.</summary>
    public static int Invoke(string[] args, Func<CliOptions, int> run, TextWriter stdout, TextWriter stderr)
    {
        // No @response-file expansion: every token means what it says (a path may start with '@').
        ParseResult parsed = CreateCommand(run).Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Action is ParseErrorAction)
        {
            foreach (ParseError error in parsed.Errors)
            {
                stderr.WriteLine("edgekws-enroll: " + error.Message);
            }

            stderr.WriteLine("Run 'edgekws-enroll --help' for usage.");
            return ExitCodes.Usage;
        }

        // Ctrl-C is the run's own (exit 130, previous enrollment kept); an unexpected exception crashes as before.
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
    }

    private static RootCommand CreateCommand(Func<CliOptions, int> run)
    {
        // Input
        var device = new Option<string>("--device") { Description = "ALSA capture device (default: the config's Audio.AlsaDevice, else \"default\").", HelpName = "NAME" };
        var wav = new Option<string[]>("--wav")
        {
            Description = "WAV files, one per attempt in order (any rate/format WavReader reads; resampled to 16 kHz).",
            HelpName = "FILE...",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var stdin = new Option<bool>("--stdin") { Description = "Raw PCM on standard input, cut into takes like the microphone." };
        var listenTimeout = Whole("--listen-timeout-ms", "Live input: give up on an attempt after N ms without speech (default 8000).", 500, 600_000);

        // Enrollment (their ranges are the enrollment policy's, checked with the phrase config's values: "bad enrollment settings")
        var takes = Whole("--takes", "Takes to accept (default 5).");
        var maxAttempts = Whole("--max-attempts", "Attempts per take before the enrollment fails (default 3).");
        var phrase = new Option<string>("--phrase") { Description = "The phrase to say (default \"hey edge\").", HelpName = "TEXT" };
        var phraseConfig = new Option<string>("--phrase-config")
        {
            Description = "JSON {\"phrase\": \"...\", \"minSpeechMs\": 500, \"maxSpeechMs\": 800}.",
            HelpName = "FILE",
        };
        var minMs = Whole("--min-ms", "Shortest speech of a take, ms (overrides the phrase config).");
        var maxMs = Whole("--max-ms", "Longest speech of a take, ms (overrides the phrase config).");
        var maxDtw = new Option<double>("--max-dtw") { Description = "Consistency threshold (default 30).", HelpName = "X" };
        maxDtw.Validators.Add(result =>
        {
            if (Token(result) is { } v && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double dtw) && !(double.IsFinite(dtw) && dtw > 0))
            {
                result.AddError($"--max-dtw needs a positive number, got '{v}'");
            }
        });

        // Device
        var config = new Option<string>("--config") { Description = "Agent config JSON (StateDirectory, DeviceId, Audio.AlsaDevice, Outbox).", HelpName = "FILE" };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the enrollment is stored (overrides the config).", HelpName = "DIR" };
        var deviceId = new Option<string>("--device-id") { Description = "Device id for the QC report (overrides the config).", HelpName = "ID" };
        var noOutbox = new Option<bool>("--no-outbox") { Description = "Do not queue the QC report for upload." };

        // Output
        var json = new Option<bool>("--json") { Description = "One JSON object per line (start, take, summary, error)." };

        var command = new RootCommand(Description)
        {
            device, wav, stdin, listenTimeout, takes, maxAttempts, phrase, phraseConfig, minMs, maxMs, maxDtw, config, stateDir, deviceId, noOutbox, json,
        };
        command.Validators.Add(result =>
        {
            bool fromWav = result.GetResult(wav) is not null, fromStdin = result.GetValue(stdin);
            if (fromWav && fromStdin)
            {
                result.AddError("choose one input: --wav or --stdin (or neither, for the microphone)");
            }
            else if (result.GetResult(device) is not null && (fromWav || fromStdin))
            {
                result.AddError("--device is for the microphone; it cannot be combined with --wav or --stdin");
            }
        });
        command.SetAction(parse => run(new CliOptions
        {
            Input = parse.GetResult(wav) is not null ? InputKind.Wav : parse.GetValue(stdin) ? InputKind.Stdin : InputKind.Alsa,
            WavFiles = parse.GetValue(wav) ?? [],
            AlsaDevice = parse.GetValue(device),
            ListenTimeoutMs = Optional(parse, listenTimeout),
            Takes = Optional(parse, takes),
            MaxAttempts = Optional(parse, maxAttempts),
            Phrase = parse.GetValue(phrase),
            PhraseConfigPath = parse.GetValue(phraseConfig),
            MinMs = Optional(parse, minMs),
            MaxMs = Optional(parse, maxMs),
            MaxDtw = parse.GetResult(maxDtw) is null ? null : parse.GetValue(maxDtw),
            ConfigPath = parse.GetValue(config),
            StateDir = parse.GetValue(stateDir),
            DeviceId = parse.GetValue(deviceId),
            NoOutbox = parse.GetValue(noOutbox),
            Json = parse.GetValue(json),
        }));
        return command;
    }

    /// <summary>A whole number; with bounds, a value outside them is an error naming the option and the range.</summary>
    private static Option<int> Whole(string name, string description, int min = int.MinValue, int max = int.MaxValue)
    {
        var option = new Option<int>(name) { Description = description, HelpName = "N" };
        if (min != int.MinValue || max != int.MaxValue)
        {
            option.Validators.Add(result =>
            {
                // Text that is no whole number is the parser's own error (exit 2 as well); this checks the range of a number.
                if (Token(result) is { } v && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && (n < min || n > max))
                {
                    result.AddError($"{name} must be {min}..{max}, got {n}");
                }
            });
        }

        return option;
    }

    private static string? Token(OptionResult result) => result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;

    private static int? Optional(ParseResult parse, Option<int> option) => parse.GetResult(option) is null ? null : parse.GetValue(option);
}

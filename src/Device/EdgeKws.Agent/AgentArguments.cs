using System.Globalization;

namespace EdgeKws.Agent;

/// <summary>The agent's command line. Hand-parsed: a handful of options, no reflection.</summary>
internal sealed class AgentArguments
{
    public const string Usage = """
        usage: edgekws-agent --config agent.json [options]
          --config PATH        agent configuration (JSON; EDGEKWS_Section__Key environment overrides)
          --wav PATH           replay a WAV file instead of the configured source (Audio.Source=wav)
          --fast               replay as fast as possible (Audio.RealTime=false); heartbeats follow audio time
          --stdin              read raw S16LE 16 kHz mono PCM from standard input (Audio.Source=stdin)
          --duration SECONDS   stop after this much wall time (graceful, as on SIGTERM)
          --model PATH         model manifest (.manifest.json) to load
          --models-dir DIR     load the first *.manifest.json in DIR (by name)
                               (default: StateDirectory/models)
          --drain-seconds N    at shutdown, wait up to N s for the outbox to drain (default 5)
          --log-enqueues       print "E <sequence> <class>" on stdout after every accepted enqueue
          --quiet              no per-detection lines
          --latency-out PATH   write raw timing samples as JSON at the end (every detection's decision
                               latency and keyword end, managed bytes allocated while listening; for the bench)
          --time-frontend      with --latency-out and a WAV source: first time per-frame MFCC and per-window
                               inference of the same model over the WAV (at most --time-frontend-seconds, default 60)
          --time-frontend-seconds N  how much of the WAV --time-frontend times (default 60)
        exit codes: 0 done, 1 runtime failure, 2 bad configuration or arguments, 3 model refused
        """;

    public string? ConfigPath { get; private set; }
    public string? WavPath { get; private set; }
    public bool Fast { get; private set; }
    public bool Stdin { get; private set; }
    public TimeSpan? Duration { get; private set; }
    public string? ModelManifest { get; private set; }
    public string? ModelsDirectory { get; private set; }
    public TimeSpan Drain { get; private set; } = TimeSpan.FromSeconds(5);
    public bool LogEnqueues { get; private set; }
    public bool Quiet { get; private set; }
    public string? LatencyOut { get; private set; }
    public bool TimeFrontEnd { get; private set; }
    public double TimeFrontEndSeconds { get; private set; } = 60;
    public bool Help { get; private set; }

    public static bool TryParse(string[] args, out AgentArguments parsed, out string error)
    {
        parsed = new AgentArguments();
        error = "";
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value()
            {
                if (i + 1 >= args.Length) return null;
                return args[++i];
            }
            switch (a)
            {
                case "-h" or "--help": parsed.Help = true; break;
                case "--config": parsed.ConfigPath = Value() ?? Fail(a, out error); break;
                case "--wav": parsed.WavPath = Value() ?? Fail(a, out error); break;
                case "--fast": parsed.Fast = true; break;
                case "--stdin": parsed.Stdin = true; break;
                case "--model": parsed.ModelManifest = Value() ?? Fail(a, out error); break;
                case "--models-dir": parsed.ModelsDirectory = Value() ?? Fail(a, out error); break;
                case "--log-enqueues": parsed.LogEnqueues = true; break;
                case "--quiet": parsed.Quiet = true; break;
                case "--latency-out": parsed.LatencyOut = Value() ?? Fail(a, out error); break;
                case "--time-frontend": parsed.TimeFrontEnd = true; break;
                case "--duration" or "--drain-seconds" or "--time-frontend-seconds":
                    string? v = Value();
                    if (v is null || !double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || !(s >= 0) || s > 1e7)
                    {
                        error = $"{a}: '{v}' is not a number of seconds >= 0";
                        return false;
                    }
                    if (a == "--duration") parsed.Duration = TimeSpan.FromSeconds(s);
                    else if (a == "--time-frontend-seconds") parsed.TimeFrontEndSeconds = s;
                    else parsed.Drain = TimeSpan.FromSeconds(s);
                    break;
                default:
                    error = $"unknown argument '{a}'";
                    return false;
            }
            if (error.Length > 0) return false;
        }
        if (parsed.Help) return true;
        if (parsed.ConfigPath is null)
        {
            error = "--config is required";
            return false;
        }
        if (parsed.WavPath is not null && parsed.Stdin)
        {
            error = "--wav and --stdin exclude each other";
            return false;
        }
        if (parsed.TimeFrontEnd && parsed.LatencyOut is null)
        {
            error = "--time-frontend needs --latency-out PATH (where the timings go)";
            return false;
        }
        if (parsed.ModelManifest is not null && parsed.ModelsDirectory is not null)
        {
            error = "--model and --models-dir exclude each other";
            return false;
        }
        return true;
    }

    private static string? Fail(string option, out string error)
    {
        error = $"{option} needs a value";
        return null;
    }
}

using System.Globalization;

namespace EdgeKws.Enroll;

/// <summary>Where the takes come from.</summary>
internal enum InputKind
{
    Alsa,
    Wav,
    Stdin,
}

/// <summary>The parsed command line (hand-parsed: no reflection, nothing to trim).</summary>
internal sealed class CliOptions
{
    public const string Usage = """
        edgekws-enroll: record and check the wake-phrase takes of this device's enrollment.

        Usage:
          edgekws-enroll [options]                      record from the ALSA microphone
          edgekws-enroll [options] --wav a.wav b.wav …  one WAV file per attempt, in order
          edgekws-enroll [options] --stdin              raw S16_LE 16 kHz mono on stdin

        Input:
          --device NAME          ALSA capture device (default: the config's Audio.AlsaDevice, else "default")
          --wav FILE...          WAV files (any rate/format WavReader reads; resampled to 16 kHz)
          --stdin                raw PCM on standard input, cut into takes like the microphone
          --listen-timeout-ms N  live input: give up on an attempt after N ms without speech (8000)

        Enrollment:
          --takes N              takes to accept (default 5)
          --max-attempts N       attempts per take before the enrollment fails (default 3)
          --phrase TEXT          the phrase to say (default "hey edge")
          --phrase-config FILE   JSON {"phrase": "...", "minSpeechMs": 500, "maxSpeechMs": 800}
          --min-ms N, --max-ms N speech duration bounds (override the phrase config)
          --max-dtw X            consistency threshold (default 30)

        Device:
          --config FILE          agent config JSON (StateDirectory, DeviceId, Audio.AlsaDevice, Outbox)
          --state-dir DIR        where the enrollment is stored (overrides the config)
          --device-id ID         device id for the QC report (overrides the config)
          --no-outbox            do not queue the QC report for upload

        Output:
          --json                 one JSON object per line (start, take, summary, error)
          -h, --help             this text

        Exit codes:
          0 enrolled   1 enrollment failed QC (previous enrollment kept)   2 usage or config error
          3 no microphone / audio device   4 bad WAV file   5 could not store the enrollment
          130 interrupted (previous enrollment kept)
        """;

    public InputKind Input { get; private set; } = InputKind.Alsa;
    public List<string> WavFiles { get; } = [];
    public string? AlsaDevice { get; private set; }
    public int? ListenTimeoutMs { get; private set; }
    public int? Takes { get; private set; }
    public int? MaxAttempts { get; private set; }
    public string? Phrase { get; private set; }
    public string? PhraseConfigPath { get; private set; }
    public int? MinMs { get; private set; }
    public int? MaxMs { get; private set; }
    public double? MaxDtw { get; private set; }
    public string? ConfigPath { get; private set; }
    public string? StateDir { get; private set; }
    public string? DeviceId { get; private set; }
    public bool NoOutbox { get; private set; }
    public bool Json { get; private set; }
    public bool Help { get; private set; }

    public static bool TryParse(string[] args, out CliOptions options, out string error)
    {
        options = new CliOptions();
        error = string.Empty;
        bool sawWav = false, sawStdin = false, sawDevice = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "-h" or "--help":
                    options.Help = true;
                    break;
                case "--json":
                    options.Json = true;
                    break;
                case "--no-outbox":
                    options.NoOutbox = true;
                    break;
                case "--stdin":
                    sawStdin = true;
                    options.Input = InputKind.Stdin;
                    break;
                case "--wav":
                    sawWav = true;
                    options.Input = InputKind.Wav;
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        options.WavFiles.Add(args[++i]);
                    }

                    if (options.WavFiles.Count == 0)
                    {
                        error = "--wav needs at least one file";
                        return false;
                    }

                    break;
                case "--device":
                    sawDevice = true;
                    if (!Value(args, ref i, out string? d, out error))
                    {
                        return false;
                    }

                    options.AlsaDevice = d;
                    break;
                case "--phrase":
                    if (!Value(args, ref i, out string? p, out error))
                    {
                        return false;
                    }

                    options.Phrase = p;
                    break;
                case "--phrase-config":
                    if (!Value(args, ref i, out string? pc, out error))
                    {
                        return false;
                    }

                    options.PhraseConfigPath = pc;
                    break;
                case "--config":
                    if (!Value(args, ref i, out string? c, out error))
                    {
                        return false;
                    }

                    options.ConfigPath = c;
                    break;
                case "--state-dir":
                    if (!Value(args, ref i, out string? s, out error))
                    {
                        return false;
                    }

                    options.StateDir = s;
                    break;
                case "--device-id":
                    if (!Value(args, ref i, out string? id, out error))
                    {
                        return false;
                    }

                    options.DeviceId = id;
                    break;
                case "--takes":
                    if (!Int(args, ref i, out int t, out error))
                    {
                        return false;
                    }

                    options.Takes = t;
                    break;
                case "--max-attempts":
                    if (!Int(args, ref i, out int m, out error))
                    {
                        return false;
                    }

                    options.MaxAttempts = m;
                    break;
                case "--min-ms":
                    if (!Int(args, ref i, out int mn, out error))
                    {
                        return false;
                    }

                    options.MinMs = mn;
                    break;
                case "--max-ms":
                    if (!Int(args, ref i, out int mx, out error))
                    {
                        return false;
                    }

                    options.MaxMs = mx;
                    break;
                case "--listen-timeout-ms":
                    if (!Int(args, ref i, out int lt, out error))
                    {
                        return false;
                    }

                    if (lt is < 500 or > 600_000)
                    {
                        error = $"--listen-timeout-ms must be 500..600000, got {lt}";
                        return false;
                    }

                    options.ListenTimeoutMs = lt;
                    break;
                case "--max-dtw":
                    if (!Value(args, ref i, out string? v, out error))
                    {
                        return false;
                    }

                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double dtw) || !double.IsFinite(dtw) || dtw <= 0)
                    {
                        error = $"--max-dtw needs a positive number, got '{v}'";
                        return false;
                    }

                    options.MaxDtw = dtw;
                    break;
                default:
                    error = $"unknown argument '{a}' (see --help)";
                    return false;
            }
        }

        if ((sawWav ? 1 : 0) + (sawStdin ? 1 : 0) > 1)
        {
            error = "choose one input: --wav or --stdin (or neither, for the microphone)";
            return false;
        }

        if (sawDevice && options.Input != InputKind.Alsa)
        {
            error = "--device is for the microphone; it cannot be combined with --wav or --stdin";
            return false;
        }

        return true;
    }

    private static bool Value(string[] args, ref int i, out string? value, out string error)
    {
        if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            value = null;
            error = $"{args[i]} needs a value";
            return false;
        }

        value = args[++i];
        error = string.Empty;
        return true;
    }

    private static bool Int(string[] args, ref int i, out int value, out string error)
    {
        value = 0;
        string name = args[i];
        if (!Value(args, ref i, out string? text, out error))
        {
            return false;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value))
        {
            error = $"{name} needs a whole number, got '{text}'";
            return false;
        }

        return true;
    }
}

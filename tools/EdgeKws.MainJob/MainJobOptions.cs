using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.MainJob;

/// <summary>Command-line options of the main job, and its command line (System.CommandLine, docs/cli.md).</summary>
internal sealed record MainJobOptions
{
    public string OutputDirectory { get; init; } = Path.Combine("artifacts", "main-job");
    public int Devices { get; init; } = 3;
    public double HoursPerDevice { get; init; } = 0.05;
    public int Days { get; init; } = 2;
    public bool KeepRunning { get; init; }
    public int? HttpPort { get; init; }
    public long Seed { get; init; } = 42;
    public bool QuickModel { get; init; }

    /// <summary>After each day's labels, a simulated person decides the review queue from the corpus ground truth (off by default).</summary>
    public bool SimulatedReview { get; init; }
    public ModelStageKind ModelStage { get; init; } = ModelStageKind.Recalibrate;

    /// <summary>Parses <paramref name="args"/> and calls <paramref name="run"/> with the options; exit 2 (message on stderr) for a bad command line.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<MainJobOptions, int> run) =>
        ToolCommandLine.Invoke(CreateCommand(run), args, stdout, stderr);

    private delegate bool TryParse<T>(string s, out T value);

    private static Command CreateCommand(Func<MainJobOptions, int> run)
    {
        var defaults = new MainJobOptions();
        Option<int> devicesOption = Checked<int>("--devices", "N", "simulated devices, each its own agent process, voice, room and noise (1..16)", defaults.Devices,
            (string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v), n => n is >= 1 and <= 16, "a whole number from 1 to 16");
        Option<double> hoursOption = Checked<double>("--hours", "H", "hours of generated audio per device and day (0.05 = 3 minutes; 0.001..24), replayed faster than real time", defaults.HoursPerDevice,
            (string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v), h => double.IsFinite(h) && h is >= 0.001 and <= 24,
            "a number of hours per device from 0.001 to 24");
        Option<int> daysOption = Checked<int>("--days", "N", "days the same devices listen (1..7): each day new utterances of the same voices in the same rooms; after every day but the last "
            + "the model stage runs and a promoted model is rolled out; the summary's loop scores production and the new model on the last day's audio. 1: today's single pass, no loop",
            defaults.Days, (string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v), n => n is >= 1 and <= 7, "a whole number from 1 to 7");
        Option<string> outOption = new("--out")
        {
            HelpName = "DIR",
            DefaultValueFactory = _ => defaults.OutputDirectory,
            Description = "where audio, gateway database, device state, logs and the summary go (replaced on every run)",
        };
        outOption.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
            {
                result.AddError("--out needs a directory");
            }
        });
        Option<bool> keepRunningOption = new("--keep-running") { Description = "leave the gateway (API, dashboard, broker) up after the summary until Ctrl-C" };
        Option<int?> httpPortOption = new("--http-port")
        {
            HelpName = "P",
            Description = "gateway HTTP port (default 8080, or a free port when 8080 is taken; 0: any free port)",
            CustomParser = result =>
            {
                string s = result.Tokens[0].Value;
                if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int p) && p is >= 0 and <= 65535)
                {
                    return p;
                }

                result.AddError($"--http-port: '{s}' must be a port from 0 to 65535 (0: any free port)");
                return null;
            },
        };
        Option<long> seedOption = Checked<long>("--seed", "S", "seed of the generated audio", defaults.Seed,
            (string s, out long v) => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v), _ => true, "a whole number");
        Option<ModelStageKind?> modelStageOption = new("--model-stage")
        {
            HelpName = "recalibrate|train|finetune",
            Description = "how the model stage makes the model it pushes: recalibrate (default: the production model's activation ranges re-calibrated on the devices' clips, "
                + "same weights), train (a small model trained and quantized in this run) or finetune (the gateway's FineTune job: the production model's float weights "
                + "fine-tuned on the day's field dataset with a replay corpus of other voices, gated on the base streams and the field dataset's held-out slice)",
            CustomParser = result =>
            {
                string s = result.Tokens[0].Value;
                switch (s)
                {
                    case "recalibrate": return ModelStageKind.Recalibrate;
                    case "train": return ModelStageKind.Train;
                    case "finetune": return ModelStageKind.FineTune;
                    default:
                        result.AddError($"--model-stage: '{s}' must be recalibrate, train or finetune");
                        return null;
                }
            },
        };
        Option<bool> quickModelOption = new("--quick-model")
        {
            Description = "with --model-stage train: train the pushed model with the trainer's tiny configuration on a smaller corpus; with finetune: a smaller replay "
                + "corpus and fewer epochs (seconds instead of a minute or two; the end-to-end test uses it)",
        };
        Option<bool> simulatedReviewOption = new("--simulated-review")
        {
            Description = "after each day's labels, a simulated person decides every clip the labeler sent to review (queued detections and near misses) "
                + "from the corpus ground truth, through the reviewer API; off by default (the default run's labels are the gateway's alone)",
        };
        var command = new Command("edgekws-main-job", "The README's main job: the whole EdgeKws loop on the embedded defaults (docs/main-job.md).")
        {
            new HelpOption(), devicesOption, hoursOption, daysOption, outOption, keepRunningOption, httpPortOption, seedOption, modelStageOption, quickModelOption,
            simulatedReviewOption,
        };
        command.SetAction(parse => run(new MainJobOptions
        {
            Devices = parse.GetValue(devicesOption),
            HoursPerDevice = parse.GetValue(hoursOption),
            Days = parse.GetValue(daysOption),
            OutputDirectory = parse.GetRequiredValue(outOption),
            KeepRunning = parse.GetValue(keepRunningOption),
            HttpPort = parse.GetValue(httpPortOption),
            Seed = parse.GetValue(seedOption),
            ModelStage = parse.GetValue(modelStageOption) ?? defaults.ModelStage,
            QuickModel = parse.GetValue(quickModelOption),
            SimulatedReview = parse.GetValue(simulatedReviewOption),
        }));
        return command;
    }

    /// <summary>An option whose unparsable or out-of-range value is refused as "--name: 'value' must be ..." (the messages the job always gave).</summary>
    private static Option<T> Checked<T>(string name, string helpName, string description, T defaultValue, TryParse<T> tryParse, Func<T, bool> isValid, string must) =>
        new(name)
        {
            HelpName = helpName,
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string s = result.Tokens[0].Value;
                if (tryParse(s, out T value) && isValid(value))
                {
                    return value;
                }

                result.AddError($"{name}: '{s}' must be {must}");
                return defaultValue;
            },
        };
}

using System.Globalization;

namespace EdgeKws.Pipeline;

/// <summary>Command-line options of the main job.</summary>
internal sealed record MainJobOptions
{
    public const string Usage = """
        usage: edgekws-main-job [--devices N] [--hours H] [--days N] [--out DIR] [--keep-running] [--http-port P] [--seed S] [--model-stage recalibrate|train|finetune] [--quick-model] [--help]
          --devices N     simulated devices, each its own agent process, voice, room and noise (default 3, 1..16)
          --hours H       hours of generated audio per device and day (default 0.05 = 3 minutes; 0.001..24),
                          replayed faster than real time
          --days N        days the same devices listen (default 2; 1..7): each day new utterances of the same voices in
                          the same rooms; after every day but the last the model stage runs and a promoted model is
                          rolled out; the summary's loop scores production and the new model on the last day's audio.
                          1: today's single pass, no loop
          --out DIR       where audio, gateway database, device state, logs and the summary go
                          (default artifacts/main-job; replaced on every run)
          --keep-running  leave the gateway (API, dashboard, broker) up after the summary until Ctrl-C
          --http-port P   gateway HTTP port (default 8080, or a free port when 8080 is taken; 0: any free port)
          --seed S        seed of the generated audio (default 42)
          --model-stage K how the model stage makes the model it pushes: recalibrate (default: the production model's
                          activation ranges re-calibrated on the devices' clips, same weights), train (a small
                          model trained and quantized in this run) or finetune (the gateway's FineTune job: the
                          production model's float weights fine-tuned on the day's field dataset with a replay corpus
                          of other voices, gated on the base streams and the field dataset's held-out slice)
          --quick-model   with --model-stage train: train the pushed model with the trainer's tiny configuration on a smaller corpus;
                          with finetune: a smaller replay corpus and fewer epochs
                          (seconds instead of a minute or two; the end-to-end test uses it)
        """;

    public string OutputDirectory { get; init; } = Path.Combine("artifacts", "main-job");
    public int Devices { get; init; } = 3;
    public double HoursPerDevice { get; init; } = 0.05;
    public int Days { get; init; } = 2;
    public bool KeepRunning { get; init; }
    public int? HttpPort { get; init; }
    public long Seed { get; init; } = 42;
    public bool QuickModel { get; init; }
    public ModelStageKind ModelStage { get; init; } = ModelStageKind.Recalibrate;
    public bool ShowHelp { get; init; }

    public static MainJobOptions? Parse(string[] args, out string? error)
    {
        var o = new MainJobOptions();
        error = null;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (a)
            {
                case "--help" or "-h":
                    o = o with { ShowHelp = true };
                    break;
                case "--keep-running":
                    o = o with { KeepRunning = true };
                    break;
                case "--quick-model":
                    o = o with { QuickModel = true };
                    break;
                case "--model-stage":
                {
                    string? s = Next();
                    ModelStageKind? kind = s switch
                    {
                        "recalibrate" => ModelStageKind.Recalibrate,
                        "train" => ModelStageKind.Train,
                        "finetune" => ModelStageKind.FineTune,
                        _ => null,
                    };
                    if (kind is null)
                    {
                        error = $"--model-stage: '{s}' must be recalibrate, train or finetune";
                        return null;
                    }
                    o = o with { ModelStage = kind.Value };
                    break;
                }
                case "--out":
                    o = o with { OutputDirectory = Next() ?? "" };
                    if (string.IsNullOrWhiteSpace(o.OutputDirectory))
                    {
                        error = "--out needs a directory";
                        return null;
                    }
                    break;
                case "--devices":
                {
                    string? s = Next();
                    if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n is < 1 or > 16)
                    {
                        error = $"--devices: '{s}' must be a whole number from 1 to 16";
                        return null;
                    }
                    o = o with { Devices = n };
                    break;
                }
                case "--days":
                {
                    string? s = Next();
                    if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n is < 1 or > 7)
                    {
                        error = $"--days: '{s}' must be a whole number from 1 to 7";
                        return null;
                    }
                    o = o with { Days = n };
                    break;
                }
                case "--hours":
                {
                    string? s = Next();
                    if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double h) || !double.IsFinite(h) || h < 0.001 || h > 24)
                    {
                        error = $"--hours: '{s}' must be a number of hours per device from 0.001 to 24";
                        return null;
                    }
                    o = o with { HoursPerDevice = h };
                    break;
                }
                case "--http-port":
                {
                    string? s = Next();
                    if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int p) || p is < 0 or > 65535)
                    {
                        error = $"--http-port: '{s}' must be a port from 0 to 65535 (0: any free port)";
                        return null;
                    }
                    o = o with { HttpPort = p };
                    break;
                }
                case "--seed":
                {
                    string? s = Next();
                    if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seed))
                    {
                        error = $"--seed: '{s}' must be a whole number";
                        return null;
                    }
                    o = o with { Seed = seed };
                    break;
                }
                default:
                    error = $"unknown argument '{a}'";
                    return null;
            }
        }
        return o;
    }
}

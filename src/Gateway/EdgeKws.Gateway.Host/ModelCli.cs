using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EdgeKws.Gateway.Rollout;
using EdgeKws.Gateway.Training;

namespace EdgeKws.Gateway.Host;

/// <summary>
/// <c>EdgeKws.Gateway.Host model train|register|fine-tune|list|show|rollout|rollback|status</c>: a thin client of a running gateway's HTTP
/// API (the rollout needs the gateway's broker and runs inside it), so every command is also one API call away. It lives in
/// the executable, not in the service library: it only speaks HTTP, and shares with the API just the request records and the
/// JSON settings (<see cref="Api.GatewayWebHost.ConfigureJson"/>).
/// </summary>
public static class ModelCli
{
    /// <summary>Exit code when the gate refused the model or the gateway refused the request (409).</summary>
    public const int Refused = 3;

    /// <summary>Environment variable holding the API token when no <c>--token-file</c> is given.</summary>
    public const string TokenVariable = "EDGEKWS_GATEWAY_TOKEN";

    /// <summary>Runs one <c>model</c> command (<paramref name="args"/> start after <c>model</c>) against the gateway at <c>--gateway</c>.</summary>
    public static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, HttpMessageHandler? handler = null) =>
        GatewayCommandLine.InvokeAsync(new RootCommand { CreateCommand(handler) }, ["model", .. args], stdout, stderr);

    /// <summary>The <c>model</c> command and its subcommands.</summary>
    public static Command CreateCommand(HttpMessageHandler? handler = null)
    {
        var gateway = new Option<Uri>("--gateway")
        {
            Description = "The running gateway's HTTP API.",
            HelpName = "URL",
            DefaultValueFactory = _ => new Uri("http://127.0.0.1:8080/"),
            CustomParser = result => Uri.TryCreate(result.Tokens[^1].Value, UriKind.Absolute, out Uri? uri) ? uri : Fail<Uri>(result, "an absolute http(s) URL"),
            Recursive = true,
        };
        var tokenFile = new Option<string>("--token-file")
        {
            Description = $"File holding the API token (operator for train/register/fine-tune/rollout/rollback, viewer for the rest); default: the environment variable {TokenVariable}.",
            HelpName = "FILE",
            Recursive = true,
        };
        var http = new ModelApiClient(gateway, tokenFile, handler);

        var model = new Command("model", $"""
            Model registry, jobs and staged rollouts of a running gateway (a client of its HTTP API; docs/model-updates.md).
            Inputs are names under the gateway's own directories, never paths: --dataset under Gateway:Labeling:DatasetDirectory,
            --streams (an edgekws-streams/1 file) under Gateway:Models:EvaluationSetDirectory, --manifest and --training-manifest
            under Gateway:Models:ImportDirectory. Exit codes: 0 ok, 1 failed, 2 usage, {Refused} refused (gate refused, 409).
            """)
        {
            gateway, tokenFile,
        };

        // train
        {
            var c = new Command("train", "Train (tools/train/train.py), INT8, streaming evaluation, gate against production, sign, register.");
            var version = Text(c, "--version", "V", "Version of the new model.", required: true);
            var dataset = Text(c, "--dataset", "NAME", "Dataset under Gateway:Labeling:DatasetDirectory.", required: true);
            var streams = Text(c, "--streams", "NAME", "Evaluation streams under Gateway:Models:EvaluationSetDirectory.", required: true);
            var id = Text(c, "--id", "ID", "Model id.", defaultValue: "kws");
            var seed = Whole(c, "--seed", "Training seed.", defaultValue: 42);
            var tiny = Flag(c, "--tiny", "A tiny model (tests, smoke runs).");
            var epochs = Whole(c, "--epochs", "Training epochs (default: the trainer's).");
            var threshold = Number(c, "--threshold", "Detection threshold (default: calibrated).");
            var bootstrap = Flag(c, "--bootstrap", "Register without a production model to gate against.");
            var (fa, frr) = (Number(c, "--fa-margin", "Gate margin on FA/hour."), Number(c, "--frr-margin", "Gate margin on FRR."));
            var noWait = Flag(c, "--no-wait", "Print the job id and return without waiting for it.");
            c.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.JobAsync(client, new ModelJobRequest
            {
                Kind = ModelJobKind.Train,
                ModelVersion = parse.GetValue(version),
                ModelId = parse.GetValue(id)!,
                Dataset = parse.GetValue(dataset),
                EvaluationSet = parse.GetValue(streams),
                Seed = parse.GetValue(seed),
                Tiny = parse.GetValue(tiny),
                Epochs = Optional(parse, epochs),
                Threshold = (float?)Optional(parse, threshold),
                Bootstrap = parse.GetValue(bootstrap),
                FaMargin = Optional(parse, fa),
                FrrMargin = Optional(parse, frr),
            }, !parse.GetValue(noWait), "api/model-jobs", Out(parse), Err(parse))));
            model.Add(c);
        }

        // register
        {
            var c = new Command("register", "A model built with edgekws-model build-int8: evaluation, gate, sign, register (float weights kept when given " +
                "or found as STEM.float.onnx beside STEM.training-manifest.json: only such a model can be fine-tuned).");
            var version = Text(c, "--version", "V", "Version to register the model as.", required: true);
            var manifest = Text(c, "--manifest", "NAME", "INT8 model manifest under Gateway:Models:ImportDirectory.", required: true);
            var trainingManifest = Text(c, "--training-manifest", "NAME", "Training manifest under Gateway:Models:ImportDirectory.", required: true);
            var streams = Text(c, "--streams", "NAME", "Evaluation streams under Gateway:Models:EvaluationSetDirectory.", required: true);
            var floatModel = Text(c, "--float-model", "NAME", "Float model (ONNX) under Gateway:Models:ImportDirectory.");
            var bootstrap = Flag(c, "--bootstrap", "Register without a production model to gate against.");
            var (fa, frr) = (Number(c, "--fa-margin", "Gate margin on FA/hour."), Number(c, "--frr-margin", "Gate margin on FRR."));
            var noWait = Flag(c, "--no-wait", "Print the job id and return without waiting for it.");
            c.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.JobAsync(client, new ModelJobRequest
            {
                Kind = ModelJobKind.Register,
                ModelVersion = parse.GetValue(version),
                Manifest = parse.GetValue(manifest),
                TrainingManifest = parse.GetValue(trainingManifest),
                FloatModel = parse.GetValue(floatModel),
                EvaluationSet = parse.GetValue(streams),
                Bootstrap = parse.GetValue(bootstrap),
                FaMargin = Optional(parse, fa),
                FrrMargin = Optional(parse, frr),
            }, !parse.GetValue(noWait), "api/registry/models", Out(parse), Err(parse))));
            model.Add(c);
        }

        // fine-tune
        {
            var c = new Command("fine-tune", "train.py --init-from the parent's (default: production's) float weights on the field dataset NAME (its test " +
                "split is the held-out slice) replaying the base dataset --replay (under Gateway:Models:ImportDirectory), INT8, gate on the base streams AND " +
                "the held-out slice, leakage check, sign, register.");
            var version = Text(c, "--version", "V", "Version of the new model.", required: true);
            var dataset = Text(c, "--dataset", "NAME", "Field dataset under Gateway:Labeling:DatasetDirectory.", required: true);
            var streams = Text(c, "--streams", "NAME", "Evaluation streams under Gateway:Models:EvaluationSetDirectory.", required: true);
            var parent = Text(c, "--parent", "V", "Model whose float weights are the start (default: production).");
            var replay = Text(c, "--replay", "NAME", "Base dataset replayed while fine-tuning.");
            var replayPerEpoch = Whole(c, "--replay-per-epoch", "Replayed windows per epoch.");
            var epochs = Whole(c, "--epochs", "Training epochs (default: the trainer's).");
            var lr = Number(c, "--lr", "Learning rate.");
            var seed = Whole(c, "--seed", "Training seed.", defaultValue: 42);
            var tiny = Flag(c, "--tiny", "A tiny model (tests, smoke runs).");
            var threshold = Number(c, "--threshold", "Detection threshold (default: the parent's, raised on --operating-point-streams when given).");
            var operatingPoint = Text(c, "--operating-point-streams", "NAME",
                "Streams under Gateway:Models:EvaluationSetDirectory (not --streams) on which the candidate's threshold is raised until it false-accepts no more than the parent.");
            var (fa, frr) = (Number(c, "--fa-margin", "Gate margin on FA/hour."), Number(c, "--frr-margin", "Gate margin on FRR."));
            var noWait = Flag(c, "--no-wait", "Print the job id and return without waiting for it.");
            c.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.JobAsync(client, new ModelJobRequest
            {
                Kind = ModelJobKind.FineTune,
                OperatingPointSet = parse.GetValue(operatingPoint),
                ModelVersion = parse.GetValue(version),
                Dataset = parse.GetValue(dataset),
                EvaluationSet = parse.GetValue(streams),
                ParentVersion = parse.GetValue(parent),
                ReplayDataset = parse.GetValue(replay),
                ReplayWindowsPerEpoch = Optional(parse, replayPerEpoch),
                LearningRate = Optional(parse, lr),
                Seed = parse.GetValue(seed),
                Tiny = parse.GetValue(tiny),
                Epochs = Optional(parse, epochs),
                Threshold = (float?)Optional(parse, threshold),
                FaMargin = Optional(parse, fa),
                FrrMargin = Optional(parse, frr),
            }, !parse.GetValue(noWait), "api/model-jobs", Out(parse), Err(parse))));
            model.Add(c);
        }

        // list, show
        {
            var c = new Command("list", "Registered models with lineage, evaluation and gate.");
            c.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.PrintAsync(client, "api/registry/models", Out(parse), Err(parse))));
            model.Add(c);

            var version = new Argument<string>("V") { Description = "The model version." };
            var show = new Command("show", "One registered model in full.") { version };
            show.SetAction((parse, ct) => http.RunAsync(parse, client =>
                ModelApiClient.PrintAsync(client, "api/registry/models/" + Uri.EscapeDataString(parse.GetValue(version)!), Out(parse), Err(parse))));
            model.Add(show);
        }

        // rollout, rollback, status
        {
            var c = new Command("rollout", "Staged rollout: canaries first, then each wave once the soak passed.");
            var version = Text(c, "--version", "V", "The registered model to roll out.", required: true);
            var canary = new Option<string[]>("--canary") { Description = "Canary devices (comma-separated; may repeat).", HelpName = "ID[,ID]" };
            var wave = new Option<string[]>("--wave") { Description = "A wave of devices after the canaries (comma-separated; repeat for each wave).", HelpName = "ID[,ID]" };
            var soak = Number(c, "--soak-hours", "Listening hours each stage soaks before the next.");
            c.Add(canary);
            c.Add(wave);
            c.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.SendAsync(client, "api/rollouts",
                new RolloutRequest(parse.GetValue(version), Ids(string.Join(',', parse.GetValue(canary) ?? [])), [.. (parse.GetValue(wave) ?? []).Select(Ids)],
                    Optional(parse, soak)), Out(parse), Err(parse))));
            model.Add(c);

            var rollback = new Command("rollback", "Halt and roll back (default: the newest running or completed rollout).");
            var rollbackId = RolloutId(rollback);
            var reason = Text(rollback, "--reason", "TEXT", "Why (kept with the rollout).");
            rollback.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.RollbackAsync(client, Optional(parse, rollbackId), parse.GetValue(reason), Out(parse), Err(parse))));
            model.Add(rollback);

            var status = new Command("status", "Rollout state, per-device confirmations, FA/hour watch (default: the newest rollout).");
            var statusId = RolloutId(status);
            status.SetAction((parse, ct) => http.RunAsync(parse, client => ModelApiClient.StatusAsync(client, Optional(parse, statusId), Out(parse), Err(parse))));
            model.Add(status);
        }
        return model;

        static string[] Ids(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    private static TextWriter Out(ParseResult parse) => parse.InvocationConfiguration.Output;

    private static TextWriter Err(ParseResult parse) => parse.InvocationConfiguration.Error;

    private static Option<string> Text(Command command, string name, string helpName, string description, bool required = false, string? defaultValue = null)
    {
        var option = new Option<string>(name) { Description = description, HelpName = helpName, Required = required };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }
        command.Add(option);
        return option;
    }

    private static Option<bool> Flag(Command command, string name, string description)
    {
        var option = new Option<bool>(name) { Description = description };
        command.Add(option);
        return option;
    }

    private static Option<int> Whole(Command command, string name, string description, int? defaultValue = null)
    {
        var option = new Option<int>(name) { Description = description, HelpName = "N" };
        if (defaultValue is { } d)
        {
            option.DefaultValueFactory = _ => d;
        }
        command.Add(option);
        return option;
    }

    /// <summary>A finite number (the gateway checks the range of each and answers 400 naming it).</summary>
    private static Option<double> Number(Command command, string name, string description)
    {
        var option = new Option<double>(name)
        {
            Description = description,
            HelpName = "X",
            CustomParser = result => double.TryParse(result.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                ? d : Fail<double>(result, "a number"),
        };
        command.Add(option);
        return option;
    }

    private static Option<long> RolloutId(Command command)
    {
        var option = new Option<long>("--rollout") { Description = "The rollout's id.", HelpName = "N" };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && long.TryParse(result.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n <= 0)
            {
                result.AddError($"--rollout must be a rollout id (1 or more), got {n}");
            }
        });
        command.Add(option);
        return option;
    }

    private static T Fail<T>(ArgumentResult result, string what)
    {
        string name = result.Parent is OptionResult o ? o.Option.Name : "value";
        result.AddError($"{name} must be {what}, got '{result.Tokens[^1].Value}'");
        return default!;
    }

    private static T? Optional<T>(ParseResult parse, Option<T> option) where T : struct => parse.GetResult(option) is null ? null : parse.GetValue(option);
}

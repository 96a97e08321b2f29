using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Rollout;
using EdgeKws.Gateway.Training;

namespace EdgeKws.Gateway.Host;

/// <summary>
/// <c>EdgeKws.Gateway.Host model train|register|fine-tune|list|show|rollout|rollback|status</c>: a thin client of a running gateway's HTTP
/// API (the rollout needs the gateway's broker and runs inside it), so every command is also one API call away. It lives in
/// the executable, not in the service library: it only speaks HTTP, and shares with the API just the request records and the
/// JSON settings (<see cref="GatewayWebHost.ConfigureJson"/>).
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
        var http = new Client(gateway, tokenFile, handler);

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
            c.SetAction((parse, ct) => http.RunAsync(parse, client => JobAsync(client, new ModelJobRequest
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
            c.SetAction((parse, ct) => http.RunAsync(parse, client => JobAsync(client, new ModelJobRequest
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
            c.SetAction((parse, ct) => http.RunAsync(parse, client => JobAsync(client, new ModelJobRequest
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
            c.SetAction((parse, ct) => http.RunAsync(parse, client => PrintAsync(client, "api/registry/models", Out(parse), Err(parse))));
            model.Add(c);

            var version = new Argument<string>("V") { Description = "The model version." };
            var show = new Command("show", "One registered model in full.") { version };
            show.SetAction((parse, ct) => http.RunAsync(parse, client =>
                PrintAsync(client, "api/registry/models/" + Uri.EscapeDataString(parse.GetValue(version)!), Out(parse), Err(parse))));
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
            c.SetAction((parse, ct) => http.RunAsync(parse, client => SendAsync(client, "api/rollouts",
                new RolloutRequest(parse.GetValue(version), Ids(string.Join(',', parse.GetValue(canary) ?? [])), [.. (parse.GetValue(wave) ?? []).Select(Ids)],
                    Optional(parse, soak)), Out(parse), Err(parse))));
            model.Add(c);

            var rollback = new Command("rollback", "Halt and roll back (default: the newest running or completed rollout).");
            var rollbackId = RolloutId(rollback);
            var reason = Text(rollback, "--reason", "TEXT", "Why (kept with the rollout).");
            rollback.SetAction((parse, ct) => http.RunAsync(parse, client => RollbackAsync(client, Optional(parse, rollbackId), parse.GetValue(reason), Out(parse), Err(parse))));
            model.Add(rollback);

            var status = new Command("status", "Rollout state, per-device confirmations, FA/hour watch (default: the newest rollout).");
            var statusId = RolloutId(status);
            status.SetAction((parse, ct) => http.RunAsync(parse, client => StatusAsync(client, Optional(parse, statusId), Out(parse), Err(parse))));
            model.Add(status);
        }
        return model;

        static string[] Ids(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>The HTTP client of one command: <c>--gateway</c>, and the token from <c>--token-file</c> or the environment.</summary>
    private sealed class Client(Option<Uri> gateway, Option<string> tokenFile, HttpMessageHandler? handler)
    {
        public async Task<int> RunAsync(ParseResult parse, Func<HttpClient, Task<int>> command)
        {
            using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
            http.BaseAddress = parse.GetValue(gateway);
            http.Timeout = TimeSpan.FromMinutes(5);
            string? token;
            try
            {
                // A file (mode 0600) or the environment, not a command-line argument: arguments are visible to every user in ps.
                token = parse.GetValue(tokenFile) is { } file ? (await File.ReadAllTextAsync(file).ConfigureAwait(false)).Trim()
                    : Environment.GetEnvironmentVariable(TokenVariable)?.Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Err(parse).WriteLineAsync("model: cannot read the token file: " + ex.Message).ConfigureAwait(false);
                return GatewayCommandLine.UsageError;
            }
            if (!string.IsNullOrEmpty(token))
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }
            try
            {
                return await command(http).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                await Err(parse).WriteLineAsync(ex.StatusCode is null ? $"model: cannot reach the gateway at {http.BaseAddress}: {ex.Message}" : $"model: {ex.Message}")
                    .ConfigureAwait(false);
                return 1;
            }
        }
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

    private static async Task<int> JobAsync(HttpClient http, ModelJobRequest request, bool wait, string path, TextWriter stdout, TextWriter stderr)
    {
        using HttpResponseMessage submitted = await http.PostAsJsonAsync(path, request, Json).ConfigureAwait(false);
        JsonNode? job = await ReadAsync(submitted).ConfigureAwait(false);
        if (submitted.StatusCode != HttpStatusCode.Accepted)
        {
            stderr.WriteLine($"model: {(int)submitted.StatusCode} {job?["error"]}{AuthHint(submitted.StatusCode)}");
            return submitted.StatusCode == HttpStatusCode.Conflict ? Refused : 1;
        }
        string id = job!["id"]!.GetValue<string>();
        stdout.WriteLine($"job {id} queued: {request.Kind} {request.ModelVersion}");
        if (!wait)
        {
            return 0;
        }
        while (true)
        {
            await Task.Delay(500).ConfigureAwait(false);
            using HttpResponseMessage r = await http.GetAsync("api/model-jobs/" + id).ConfigureAwait(false);
            job = await ReadAsync(r).ConfigureAwait(false);
            string state = job?["state"]?.GetValue<string>() ?? "?";
            if (state is "Succeeded" or "Failed")
            {
                break;
            }
        }
        foreach (JsonNode? step in job!["steps"]!.AsArray())
        {
            stdout.WriteLine("  " + step);
        }
        if (job["state"]!.GetValue<string>() == "Failed")
        {
            stderr.WriteLine("model: job failed: " + job["error"]);
            return 1;
        }
        JsonNode model = job["model"]!;
        stdout.WriteLine($"{model["modelVersion"]}: {model["stage"]}; gate: {model["gateSummary"]}");
        return model["stage"]!.GetValue<string>() == "Refused" ? Refused : 0;
    }

    private static async Task<int> PrintAsync(HttpClient http, string path, TextWriter stdout, TextWriter stderr)
    {
        using HttpResponseMessage r = await http.GetAsync(path).ConfigureAwait(false);
        return await PrintResponseAsync(r, stdout, stderr).ConfigureAwait(false);
    }

    private static async Task<int> SendAsync(HttpClient http, string path, object body, TextWriter stdout, TextWriter stderr)
    {
        using HttpResponseMessage r = await http.PostAsJsonAsync(path, body, Json).ConfigureAwait(false);
        return await PrintResponseAsync(r, stdout, stderr).ConfigureAwait(false);
    }

    private static async Task<int> PrintResponseAsync(HttpResponseMessage r, TextWriter stdout, TextWriter stderr)
    {
        JsonNode? node = await ReadAsync(r).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            stderr.WriteLine($"model: {(int)r.StatusCode} {node?["error"]}{AuthHint(r.StatusCode)}");
            return r.StatusCode == HttpStatusCode.Conflict ? Refused : 1;
        }
        stdout.WriteLine(node?.ToJsonString(Indented));
        return 0;
    }

    private static async Task<int> RollbackAsync(HttpClient http, long? rollout, string? reason, TextWriter stdout, TextWriter stderr)
    {
        string? id = rollout?.ToString(CultureInfo.InvariantCulture) ?? await NewestAsync(http, s => s is "Running" or "Completed").ConfigureAwait(false);
        if (id is null)
        {
            stderr.WriteLine("model: no running or completed rollout to roll back");
            return 1;
        }
        return await SendAsync(http, $"api/rollouts/{id}/rollback", new RollbackInput(reason), stdout, stderr).ConfigureAwait(false);
    }

    private static async Task<int> StatusAsync(HttpClient http, long? rollout, TextWriter stdout, TextWriter stderr)
    {
        string? id = rollout?.ToString(CultureInfo.InvariantCulture) ?? await NewestAsync(http, _ => true).ConfigureAwait(false);
        if (id is null)
        {
            stderr.WriteLine("model: no rollout yet");
            return 1;
        }
        return await PrintAsync(http, "api/rollouts/" + id, stdout, stderr).ConfigureAwait(false);
    }

    private static async Task<string?> NewestAsync(HttpClient http, Func<string, bool> state)
    {
        using HttpResponseMessage r = await http.GetAsync("api/rollouts?limit=100").ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET api/rollouts answered {(int)r.StatusCode}{AuthHint(r.StatusCode)}", null, r.StatusCode);
        }
        JsonNode? list = await ReadAsync(r).ConfigureAwait(false);
        return list?.AsArray().FirstOrDefault(x => state(x!["state"]!.GetValue<string>()))?["id"]?.ToJsonString();
    }

    private static string AuthHint(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Unauthorized => $" (give an API token: --token-file FILE or {TokenVariable}; EdgeKws.Gateway.Host token create makes one)",
        HttpStatusCode.Forbidden => " (this token's role is too low for the command)",
        _ => string.Empty,
    };

    private static async Task<JsonNode?> ReadAsync(HttpResponseMessage r)
    {
        string text = await r.Content.ReadAsStringAsync().ConfigureAwait(false);
        try
        {
            return text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return new JsonObject { ["error"] = text };
        }
    }

    private static readonly JsonSerializerOptions Json = CreateJson();
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions();
        GatewayWebHost.ConfigureJson(o);
        return o;
    }
}

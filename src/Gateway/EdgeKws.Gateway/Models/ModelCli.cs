using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Api;

namespace EdgeKws.Gateway.Models;

/// <summary>
/// <c>EdgeKws.Gateway.Host model train|register|fine-tune|list|show|rollout|rollback|status</c>: a thin client of a running gateway's HTTP
/// API (the rollout needs the gateway's broker and runs inside it), so every command is also one API call away.
/// </summary>
public static class ModelCli
{
    /// <summary>Exit code when the gate refused the model or the gateway refused the request (409).</summary>
    public const int Refused = 3;

    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage: EdgeKws.Gateway.Host model <command> [--gateway http://127.0.0.1:8080/] [--token-file FILE] ...
          train    --version V --dataset NAME --streams NAME [--id kws] [--seed 42] [--tiny] [--epochs N] [--threshold X]
                   [--bootstrap] [--fa-margin X] [--frr-margin X] [--no-wait]
                   train (tools/train/train.py), INT8, streaming evaluation, gate against production, sign, register
          register --version V --manifest NAME --training-manifest NAME --streams NAME [--float-model NAME] [--bootstrap] [--no-wait]
                   a model built with edgekws-model build-int8: evaluation, gate, sign, register (float weights kept when given
                   or found as STEM.float.onnx beside STEM.training-manifest.json: only such a model can be fine-tuned)
          fine-tune --version V --dataset NAME --streams NAME [--parent V] [--replay NAME] [--replay-per-epoch N]
                   [--epochs N] [--lr X] [--seed 42] [--tiny] [--threshold X] [--fa-margin X] [--frr-margin X] [--no-wait]
                   train.py --init-from the parent's (default: production's) float weights on the field dataset NAME (its test
                   split is the held-out slice) replaying the base dataset --replay (under Gateway:Models:ImportDirectory), INT8,
                   gate on the base streams AND the held-out slice, leakage check, sign, register
          list                          registered models with lineage, evaluation and gate
          show V                        one registered model in full
          rollout  --version V --canary ID[,ID] [--wave ID[,ID]]... [--soak-hours H]
          rollback [--rollout N] [--reason TEXT]   halt and roll back (default: the newest running or completed rollout)
          status   [--rollout N]                   rollout state, per-device confirmations, FA/hour watch
        Inputs are names under the gateway's own directories, never paths: --dataset under Gateway:Labeling:DatasetDirectory,
        --streams (an edgekws-streams/1 file) under Gateway:Models:EvaluationSetDirectory, --manifest and --training-manifest
        under Gateway:Models:ImportDirectory (docs/model-updates.md).
        The API token (operator for train/register/rollout/rollback, viewer for the rest) is read from --token-file, else from
        the environment variable EDGEKWS_GATEWAY_TOKEN. exit codes: 0 ok, 1 failed, 2 usage, 3 refused
        """;

    /// <summary>Environment variable holding the API token when no <c>--token-file</c> is given.</summary>
    public const string TokenVariable = "EDGEKWS_GATEWAY_TOKEN";

    /// <summary>Runs one command against the gateway at <c>--gateway</c>.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count == 0)
        {
            stderr.WriteLine(Usage);
            return 2;
        }
        if (!TryParse(args, out string? positional, out Dictionary<string, List<string>> o, out string error))
        {
            stderr.WriteLine("model: " + error);
            return 2;
        }
        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.BaseAddress = new Uri(One(o, "gateway") ?? "http://127.0.0.1:8080/");
        http.Timeout = TimeSpan.FromMinutes(5);
        string? token;
        try
        {
            // A file (mode 0600) or the environment, not a command-line argument: arguments are visible to every user in ps.
            token = One(o, "token-file") is { } file ? File.ReadAllText(file).Trim() : Environment.GetEnvironmentVariable(TokenVariable)?.Trim();
        }
        catch (IOException ex)
        {
            stderr.WriteLine("model: cannot read the token file: " + ex.Message);
            return 2;
        }
        if (!string.IsNullOrEmpty(token))
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        try
        {
            return args[0] switch
            {
                "train" => await JobAsync(http, Train(o), !o.ContainsKey("no-wait"), "api/model-jobs", stdout, stderr).ConfigureAwait(false),
                "register" => await JobAsync(http, Register(o), !o.ContainsKey("no-wait"), "api/registry/models", stdout, stderr).ConfigureAwait(false),
                "fine-tune" => await JobAsync(http, FineTune(o), !o.ContainsKey("no-wait"), "api/model-jobs", stdout, stderr).ConfigureAwait(false),
                "list" => await PrintAsync(http, "api/registry/models", stdout, stderr).ConfigureAwait(false),
                "show" => await PrintAsync(http, "api/registry/models/" + Uri.EscapeDataString(positional ?? throw new ArgumentException("show needs a version")), stdout, stderr).ConfigureAwait(false),
                "rollout" => await SendAsync(http, "api/rollouts", Rollout(o), stdout, stderr).ConfigureAwait(false),
                "rollback" => await RollbackAsync(http, o, stdout, stderr).ConfigureAwait(false),
                "status" => await StatusAsync(http, o, stdout, stderr).ConfigureAwait(false),
                _ => throw new ArgumentException($"unknown command '{args[0]}'"),
            };
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine("model: " + ex.Message);
            stderr.WriteLine(Usage);
            return 2;
        }
        catch (HttpRequestException ex)
        {
            stderr.WriteLine(ex.StatusCode is null ? $"model: cannot reach the gateway at {http.BaseAddress}: {ex.Message}" : $"model: {ex.Message}");
            return 1;
        }
    }

    private static bool TryParse(IReadOnlyList<string> args, out string? positional, out Dictionary<string, List<string>> options, out string error)
    {
        positional = null;
        options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        string[] flags = ["tiny", "bootstrap", "no-wait"];
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                if (positional is not null)
                {
                    error = $"unexpected argument '{a}'";
                    return false;
                }
                positional = a;
                continue;
            }
            string name = a[2..];
            if (flags.Contains(name))
            {
                options[name] = [];
                continue;
            }
            if (i + 1 >= args.Count)
            {
                error = $"{a} needs a value";
                return false;
            }
            if (!options.TryGetValue(name, out List<string>? values))
            {
                options[name] = values = [];
            }
            values.Add(args[++i]);
        }
        error = string.Empty;
        return true;
    }

    private static string? One(Dictionary<string, List<string>> o, string name) => o.TryGetValue(name, out List<string>? v) && v.Count > 0 ? v[^1] : null;

    private static string Required(Dictionary<string, List<string>> o, string name) => One(o, name) ?? throw new ArgumentException($"--{name} is required");

    private static double? Number(Dictionary<string, List<string>> o, string name) =>
        One(o, name) is not { } v ? null
        : double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d
        : throw new ArgumentException($"--{name} must be a number, got '{v}'");

    private static ModelJobRequest Train(Dictionary<string, List<string>> o) => new()
    {
        Kind = ModelJobKind.Train,
        ModelVersion = Required(o, "version"),
        ModelId = One(o, "id") ?? "kws",
        Dataset = Required(o, "dataset"),
        EvaluationSet = Required(o, "streams"),
        Seed = (int)(Number(o, "seed") ?? 42),
        Tiny = o.ContainsKey("tiny"),
        Epochs = Number(o, "epochs") is { } e ? (int)e : null,
        Threshold = Number(o, "threshold") is { } t ? (float)t : null,
        Bootstrap = o.ContainsKey("bootstrap"),
        FaMargin = Number(o, "fa-margin"),
        FrrMargin = Number(o, "frr-margin"),
    };

    private static ModelJobRequest Register(Dictionary<string, List<string>> o) => new()
    {
        Kind = ModelJobKind.Register,
        ModelVersion = Required(o, "version"),
        Manifest = Required(o, "manifest"),
        TrainingManifest = Required(o, "training-manifest"),
        FloatModel = One(o, "float-model"),
        EvaluationSet = Required(o, "streams"),
        Bootstrap = o.ContainsKey("bootstrap"),
        FaMargin = Number(o, "fa-margin"),
        FrrMargin = Number(o, "frr-margin"),
    };

    private static ModelJobRequest FineTune(Dictionary<string, List<string>> o) => new()
    {
        Kind = ModelJobKind.FineTune,
        ModelVersion = Required(o, "version"),
        Dataset = Required(o, "dataset"),
        EvaluationSet = Required(o, "streams"),
        ParentVersion = One(o, "parent"),
        ReplayDataset = One(o, "replay"),
        ReplayWindowsPerEpoch = Number(o, "replay-per-epoch") is { } n ? (int)n : null,
        LearningRate = Number(o, "lr"),
        Seed = (int)(Number(o, "seed") ?? 42),
        Tiny = o.ContainsKey("tiny"),
        Epochs = Number(o, "epochs") is { } e ? (int)e : null,
        Threshold = Number(o, "threshold") is { } t ? (float)t : null,
        FaMargin = Number(o, "fa-margin"),
        FrrMargin = Number(o, "frr-margin"),
    };

    private static RolloutRequest Rollout(Dictionary<string, List<string>> o)
    {
        static string[] Ids(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new RolloutRequest(Required(o, "version"), Ids(string.Join(',', o.GetValueOrDefault("canary") ?? [])),
            [.. (o.GetValueOrDefault("wave") ?? []).Select(Ids)], Number(o, "soak-hours"));
    }

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

    private static async Task<int> RollbackAsync(HttpClient http, Dictionary<string, List<string>> o, TextWriter stdout, TextWriter stderr)
    {
        string? id = One(o, "rollout") ?? await NewestAsync(http, s => s is "Running" or "Completed").ConfigureAwait(false);
        if (id is null)
        {
            stderr.WriteLine("model: no running or completed rollout to roll back");
            return 1;
        }
        return await SendAsync(http, $"api/rollouts/{id}/rollback", new RollbackInput(One(o, "reason")), stdout, stderr).ConfigureAwait(false);
    }

    private static async Task<int> StatusAsync(HttpClient http, Dictionary<string, List<string>> o, TextWriter stdout, TextWriter stderr)
    {
        string? id = One(o, "rollout") ?? await NewestAsync(http, _ => true).ConfigureAwait(false);
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

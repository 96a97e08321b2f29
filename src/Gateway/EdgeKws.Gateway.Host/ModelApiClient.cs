using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Training;

namespace EdgeKws.Gateway.Host;

/// <summary>
/// The HTTP side of <see cref="ModelCli"/>: one <see cref="HttpClient"/> per command (<c>--gateway</c>, and the token from
/// <c>--token-file</c> or the environment), the API calls of each command, and what they print (JSON on stdout; the status,
/// the gateway's error and a hint on stderr). Exit codes: 0 ok, 1 failed, <see cref="ModelCli.Refused"/> on 409 or a refused gate.
/// </summary>
internal sealed class ModelApiClient(Option<Uri> gateway, Option<string> tokenFile, HttpMessageHandler? handler)
{
    /// <summary>Runs <paramref name="command"/> with a client for the parsed <c>--gateway</c> and token; an unreachable gateway exits 1, an unreadable token file 2.</summary>
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
                : Environment.GetEnvironmentVariable(ModelCli.TokenVariable)?.Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await parse.InvocationConfiguration.Error.WriteLineAsync("model: cannot read the token file: " + ex.Message).ConfigureAwait(false);
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
            await parse.InvocationConfiguration.Error.WriteLineAsync(ex.StatusCode is null ? $"model: cannot reach the gateway at {http.BaseAddress}: {ex.Message}" : $"model: {ex.Message}")
                .ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Submits a model job; with <paramref name="wait"/>, polls it to the end and prints its steps and the registered model.</summary>
    public static async Task<int> JobAsync(HttpClient http, ModelJobRequest request, bool wait, string path, TextWriter stdout, TextWriter stderr)
    {
        using HttpResponseMessage submitted = await http.PostAsJsonAsync(path, request, Json).ConfigureAwait(false);
        JsonNode? job = await ReadAsync(submitted).ConfigureAwait(false);
        if (submitted.StatusCode != HttpStatusCode.Accepted)
        {
            stderr.WriteLine($"model: {(int)submitted.StatusCode} {job?["error"]}{AuthHint(submitted.StatusCode)}");
            return submitted.StatusCode == HttpStatusCode.Conflict ? ModelCli.Refused : 1;
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
        return model["stage"]!.GetValue<string>() == "Refused" ? ModelCli.Refused : 0;
    }

    /// <summary>GET <paramref name="path"/> and print the JSON answer.</summary>
    public static async Task<int> PrintAsync(HttpClient http, string path, TextWriter stdout, TextWriter stderr)
    {
        using HttpResponseMessage r = await http.GetAsync(path).ConfigureAwait(false);
        return await PrintResponseAsync(r, stdout, stderr).ConfigureAwait(false);
    }

    /// <summary>POST <paramref name="body"/> to <paramref name="path"/> and print the JSON answer.</summary>
    public static async Task<int> SendAsync(HttpClient http, string path, object body, TextWriter stdout, TextWriter stderr)
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
            return r.StatusCode == HttpStatusCode.Conflict ? ModelCli.Refused : 1;
        }
        stdout.WriteLine(node?.ToJsonString(Indented));
        return 0;
    }

    /// <summary>Rolls back the given rollout, or the newest running or completed one.</summary>
    public static async Task<int> RollbackAsync(HttpClient http, long? rollout, string? reason, TextWriter stdout, TextWriter stderr)
    {
        string? id = rollout?.ToString(CultureInfo.InvariantCulture) ?? await NewestAsync(http, s => s is "Running" or "Completed").ConfigureAwait(false);
        if (id is null)
        {
            stderr.WriteLine("model: no running or completed rollout to roll back");
            return 1;
        }
        return await SendAsync(http, $"api/rollouts/{id}/rollback", new RollbackInput(reason), stdout, stderr).ConfigureAwait(false);
    }

    /// <summary>Prints the given rollout, or the newest one.</summary>
    public static async Task<int> StatusAsync(HttpClient http, long? rollout, TextWriter stdout, TextWriter stderr)
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
        HttpStatusCode.Unauthorized => $" (give an API token: --token-file FILE or {ModelCli.TokenVariable}; EdgeKws.Gateway.Host token create makes one)",
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

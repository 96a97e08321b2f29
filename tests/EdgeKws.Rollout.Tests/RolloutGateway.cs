using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeKws.Agent.Tests;
using EdgeKws.Gateway;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace EdgeKws.Rollout.Tests;

/// <summary>
/// The whole gateway of an end-to-end rollout test (<see cref="GatewayWebHost"/>: embedded broker, SQLite, HTTP API, rollout
/// service) and the agent processes that talk to it: its HTTP API as JSON, polling waits whose timeout message carries the
/// agents' stderr, and one teardown that stops the agents and writes their stderr to the test output.
/// </summary>
internal sealed class RolloutGateway : IAsyncDisposable
{
    /// <summary>The gateway API's JSON conventions (names, enums as strings).</summary>
    public static readonly JsonSerializerOptions Json = CreateJson();
    private readonly ITestOutputHelper _output;
    private readonly TimeSpan _liveness;
    private readonly List<AgentProcess> _agents = [];

    private RolloutGateway(WebApplication app, int brokerPort, ITestOutputHelper output, TimeSpan liveness, string tokenFile)
    {
        App = app;
        BrokerPort = brokerPort;
        _output = output;
        _liveness = liveness;
        TokenFile = tokenFile;
        Http = new HttpClient { BaseAddress = app.HttpAddress(), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(tokenFile).Trim());
    }

    /// <summary>A file holding the operator token <see cref="Http"/> sends (for <c>model ... --token-file</c>).</summary>
    public string TokenFile { get; }

    /// <summary>Where register jobs name their manifests from (<c>Gateway:Models:ImportDirectory</c>).</summary>
    public string ImportDirectory => Path.GetFullPath(App.Services.GetRequiredService<EdgeKws.Gateway.Configuration.ModelLoopOptions>().ImportDirectory);

    public WebApplication App { get; }

    public HttpClient Http { get; }

    public int BrokerPort { get; }

    /// <summary>
    /// Starts a gateway with its store, job, import, evaluation-set and dataset directories in <paramref name="dir"/>, an operator
    /// token (made through the store, as <c>token create</c> does) on <see cref="Http"/>, 1 KB model chunks and a 0.5 s rollout poll;
    /// <paramref name="settings"/> adds or overrides settings (<c>--Gateway:...=value</c>). <paramref name="liveness"/> bounds
    /// every wait: generous, it only decides how long a broken run takes to fail.
    /// </summary>
    public static async Task<RolloutGateway> StartAsync(TempDirectory dir, IEnumerable<string> settings, ITestOutputHelper output, TimeSpan liveness)
    {
        int brokerPort = TestWait.FreeLoopbackPort();
        WebApplication app = GatewayWebHost.Build(
        [
            "--Gateway:Store:DatabasePath=" + dir.File("gateway.db"),
            "--Gateway:Store:Durability=Normal",
            "--Gateway:Broker:Port=" + brokerPort.ToString(CultureInfo.InvariantCulture),
            "--Gateway:Http:Port=0",
            "--Gateway:Models:WorkDirectory=" + dir.File("jobs"),
            "--Gateway:Models:ImportDirectory=" + dir.File("imports"),
            "--Gateway:Models:EvaluationSetDirectory=" + dir.File("evaluation-sets"),
            "--Gateway:Labeling:DatasetDirectory=" + dir.File("datasets"),
            "--Gateway:Models:ChunkSizeBytes=1024",
            "--Gateway:Models:Rollout:PollInterval=00:00:00.500",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:EdgeKws.Gateway.Registry=Information",
            "--Logging:LogLevel:EdgeKws.Gateway.Training=Information",
            "--Logging:LogLevel:EdgeKws.Gateway.Rollout=Information",
            .. settings,
        ]);
        await app.StartAsync();
        string token = ApiToken.Create();
        app.Services.GetRequiredService<GatewayService>().Store.AddApiToken("rollout-test", ApiRole.Operator, ApiToken.Hash(token), DateTimeOffset.UtcNow, "test");
        string tokenFile = dir.File("operator.token");
        File.WriteAllText(tokenFile, token);
        return new RolloutGateway(app, brokerPort, output, liveness, tokenFile);
    }

    /// <summary>Stopped and its stderr written to the test output at teardown.</summary>
    public AgentProcess Track(AgentProcess agent)
    {
        _agents.Add(agent);
        return agent;
    }

    /// <param name="lastSeen">What the condition saw last, for the timeout message (the agents' stderr follows it).</param>
    public async Task WaitAsync(Func<Task<bool>> condition, string what, Func<string>? lastSeen = null)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < _liveness,
                $"timed out waiting for: {what}\n{lastSeen?.Invoke()}\n{string.Join("\n", _agents.Select(a => a.Stderr))}");
            await Task.Delay(250);
        }
        _output.WriteLine($"{what}: {sw.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>Polls the rollout until it is in <paramref name="state"/>; fails at once if it ends in another terminal state.
    /// <paramref name="meanwhile"/> runs at every poll that finds it elsewhere (e.g. reviewing the triggers a step waits for).</summary>
    public async Task<JsonElement> WaitForRolloutAsync(long id, string state, Func<Task>? meanwhile = null)
    {
        JsonElement r = default;
        await WaitAsync(async () =>
        {
            r = await GetAsync($"/api/rollouts/{id}");
            string now = r.GetProperty("state").GetString()!;
            Assert.True(now == state || now is "Running" or "RollingBack", $"rollout {id} ended {now}: {r}");
            if (now != state && meanwhile is not null)
            {
                await meanwhile();
            }
            return now == state;
        }, $"rollout {id} {state}", () => "last read: " + r);
        return r;
    }

    public async Task<JsonElement> GetAsync(string path)
    {
        using HttpResponseMessage r = await Http.GetAsync(path);
        string body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, $"GET {path} -> {(int)r.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<(int Status, JsonElement Body)> SendAsync(string path, object body)
    {
        using HttpResponseMessage r = await Http.PostAsJsonAsync(path, body, Json);
        string text = await r.Content.ReadAsStringAsync();
        return ((int)r.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task<JsonElement> PostAsync(string path, object body, int expected)
    {
        (int status, JsonElement r) = await SendAsync(path, body);
        Assert.True(status == expected, $"POST {path} -> {status} (expected {expected}): {r}");
        return r;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (AgentProcess a in _agents)
        {
            if (!a.HasExited)
            {
                a.Signal("TERM");
                a.WaitForExit(TimeSpan.FromSeconds(20));
            }
            _output.WriteLine($"--- agent {a.Id} stderr:\n{a.Stderr}");
            a.Dispose();
        }
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions();
        GatewayWebHost.ConfigureJson(o);
        return o;
    }
}

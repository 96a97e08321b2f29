using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeKws.Gateway.Tests.Api;

/// <summary>The real clock shifted by <see cref="Offset"/>: tests move "now" forward without waiting (timers stay real).</summary>
internal sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public TimeSpan Offset
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
        set => Interlocked.Exchange(ref _offsetTicks, value.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
}

/// <summary>The whole gateway as the exe runs it (<see cref="GatewayWebHost.Build"/>): broker on a free loopback port,
/// a temp SQLite file (or the store extraArgs choose), Kestrel on a free loopback port, and a shifted clock for the monitoring rules.
/// <see cref="Http"/> carries an admin token made through the store (as the host's <c>token create</c> does); <see cref="ClientFor"/>
/// makes clients of other roles and names, <see cref="Anonymous"/> has none.</summary>
internal sealed class WebGateway : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = CreateJson();

    private readonly TempDirectory _dir = new();

    private WebGateway(string[] extraArgs)
    {
        BrokerPort = TestWait.FreeLoopbackPort();
        string[] args =
        [
            "--Gateway:Store:DatabasePath=" + _dir.File("gateway.db"),
            "--Gateway:Store:Durability=Normal",
            "--Gateway:Broker:Port=" + BrokerPort.ToString(CultureInfo.InvariantCulture),
            "--Gateway:Http:Port=0",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        App = GatewayWebHost.Build(args, b => b.Services.AddSingleton<TimeProvider>(Clock));
    }

    public WebApplication App { get; }

    public ShiftedClock Clock { get; } = new();

    public int BrokerPort { get; }

    /// <summary>A client with the admin token <see cref="AdminName"/>.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>A client without any token.</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    /// <summary>The name of <see cref="Http"/>'s token.</summary>
    public const string AdminName = "test-admin";

    private readonly List<HttpClient> _clients = [];

    public Uri BaseAddress => Http.BaseAddress!;

    public GatewayService Service => App.Services.GetRequiredService<GatewayService>();

    public AlertService Alerts => App.Services.GetRequiredService<AlertService>();

    public static async Task<WebGateway> StartAsync(string[] devices, params string[] extraArgs)
    {
        var g = new WebGateway(extraArgs);
        await g.App.StartAsync();
        g.Anonymous = g.NewClient(null);
        g.Http = g.ClientFor(AdminName, ApiRole.Admin);
        foreach (string d in devices)
        {
            g.Service.Store.SetDeviceCredential(d, PasswordHash.Create(InProcessGateway.Password, iterations: 1_000));
        }
        return g;
    }

    /// <summary>Creates a token in the store (what <c>EdgeKws.Gateway.Host token create</c> does) and returns it.</summary>
    public string CreateToken(string name, ApiRole role)
    {
        string token = ApiToken.Create();
        Service.Store.AddApiToken(name, role, ApiToken.Hash(token), DateTimeOffset.UtcNow, "test");
        return token;
    }

    /// <summary>A client with a new token of <paramref name="name"/> and <paramref name="role"/>.</summary>
    public HttpClient ClientFor(string name, ApiRole role) => NewClient(CreateToken(name, role));

    /// <summary>A client sending <paramref name="token"/> as Bearer (none when null); disposed with the gateway.</summary>
    public HttpClient NewClient(string? token)
    {
        var c = new HttpClient { BaseAddress = App.HttpAddress(), Timeout = TimeSpan.FromSeconds(120) }; // liveness only
        if (token is not null)
        {
            c.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        _clients.Add(c);
        return c;
    }

    public async Task<JsonElement> GetJsonAsync(string path, HttpClient? client = null)
    {
        using HttpResponseMessage r = await (client ?? Http).GetAsync(path);
        string body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, $"GET {path} -> {(int)r.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<(int Status, JsonElement Body)> SendJsonAsync(HttpMethod method, string path, object body, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body, options: Json) };
        using HttpResponseMessage r = await (client ?? Http).SendAsync(request);
        string text = await r.Content.ReadAsStringAsync();
        return ((int)r.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (HttpClient c in _clients)
        {
            c.Dispose();
        }
        await App.StopAsync();
        await App.DisposeAsync();
        _dir.Dispose();
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions();
        GatewayWebHost.ConfigureJson(o);
        return o;
    }
}

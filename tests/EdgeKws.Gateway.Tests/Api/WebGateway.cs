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
/// a temp SQLite file (or the store extraArgs choose), Kestrel on a free loopback port, and a shifted clock for the monitoring rules.</summary>
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

    public HttpClient Http { get; private set; } = null!;

    public Uri BaseAddress => Http.BaseAddress!;

    public GatewayService Service => App.Services.GetRequiredService<GatewayService>();

    public AlertService Alerts => App.Services.GetRequiredService<AlertService>();

    public static async Task<WebGateway> StartAsync(string[] devices, params string[] extraArgs)
    {
        var g = new WebGateway(extraArgs);
        await g.App.StartAsync();
        g.Http = new HttpClient { BaseAddress = g.App.HttpAddress(), Timeout = TimeSpan.FromSeconds(120) }; // liveness only
        foreach (string d in devices)
        {
            g.Service.Store.SetDeviceCredential(d, PasswordHash.Create(InProcessGateway.Password, iterations: 1_000));
        }
        return g;
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using HttpResponseMessage r = await Http.GetAsync(path);
        string body = await r.Content.ReadAsStringAsync();
        Assert.True(r.IsSuccessStatusCode, $"GET {path} -> {(int)r.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<(int Status, JsonElement Body)> SendJsonAsync(HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body, options: Json) };
        using HttpResponseMessage r = await Http.SendAsync(request);
        string text = await r.Content.ReadAsStringAsync();
        return ((int)r.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
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

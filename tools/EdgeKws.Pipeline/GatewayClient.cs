using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace EdgeKws.Pipeline;

/// <summary>The gateway's HTTP API as the main job uses it (JSON in, JSON out, errors with the body), with its operator token.</summary>
internal sealed class GatewayClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri baseAddress;

    public GatewayClient(Uri baseAddress, string token)
    {
        this.baseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Uri BaseAddress => baseAddress;

    public async Task<JsonElement> GetAsync(string path, CancellationToken ct)
    {
        using HttpResponseMessage r = await _http.GetAsync(new Uri(path, UriKind.Relative), ct).ConfigureAwait(false);
        return await ReadAsync(r, "GET " + path, ct).ConfigureAwait(false);
    }

    /// <summary>GET that reports a 404 as null (an endpoint or object that does not exist yet).</summary>
    public async Task<JsonElement?> TryGetAsync(string path, CancellationToken ct)
    {
        using HttpResponseMessage r = await _http.GetAsync(new Uri(path, UriKind.Relative), ct).ConfigureAwait(false);
        if (r.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.MethodNotAllowed)
        {
            return null;
        }
        return await ReadAsync(r, "GET " + path, ct).ConfigureAwait(false);
    }

    public Task<JsonElement> PostJsonAsync(string path, object body, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, path, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, JsonOptions)), ct);

    /// <summary>POST that reports a 409 Conflict (e.g. "nothing to export") as null.</summary>
    public async Task<JsonElement?> TryPostJsonAsync(string path, object body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, JsonOptions))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage r = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (r.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            return null;
        }
        return await ReadAsync(r, "POST " + path, ct).ConfigureAwait(false);
    }

    public Task<JsonElement> PutBytesAsync(string path, byte[] json, CancellationToken ct) => SendAsync(HttpMethod.Put, path, json, ct);

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, byte[] json, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(json) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage r = await _http.SendAsync(request, ct).ConfigureAwait(false);
        return await ReadAsync(r, $"{method} {path}", ct).ConfigureAwait(false);
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage r, string what, CancellationToken ct)
    {
        string text = await r.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: HTTP {(int)r.StatusCode}: {(text.Length > 500 ? text[..500] : text)}");
        }
        if (text.Length == 0)
        {
            return default;
        }
        using JsonDocument doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    public void Dispose() => _http.Dispose();
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace EdgeKws.MainJob;

/// <summary>The gateway's HTTP API as the main job uses it (JSON in, JSON out, errors with the body), with its operator token.</summary>
/// <remarks>
/// Every request has a deadline: <see cref="DefaultTimeout"/>, or its own for a request that does long work before it answers
/// (a labeling run over every waiting clip takes minutes on a loaded 2-core machine). A missed deadline is a
/// <see cref="TimeoutException"/> naming the request.
/// </remarks>
internal sealed class GatewayClient : IDisposable
{
    /// <summary>The deadline of a request that names none.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;
    private readonly Uri baseAddress;

    public GatewayClient(Uri baseAddress, string token)
    {
        this.baseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };   // per request: see DeadlineAsync
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Uri BaseAddress => baseAddress;

    public Task<JsonElement> GetAsync(string path, CancellationToken ct) =>
        DeadlineAsync("GET " + path, null, ct, async token =>
        {
            using HttpResponseMessage r = await _http.GetAsync(new Uri(path, UriKind.Relative), token).ConfigureAwait(false);
            return await ReadAsync(r, "GET " + path, token).ConfigureAwait(false);
        });

    /// <summary>GET that reports a 404 as null (an endpoint or object that does not exist yet).</summary>
    public Task<JsonElement?> TryGetAsync(string path, CancellationToken ct) =>
        DeadlineAsync<JsonElement?>("GET " + path, null, ct, async token =>
        {
            using HttpResponseMessage r = await _http.GetAsync(new Uri(path, UriKind.Relative), token).ConfigureAwait(false);
            if (r.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.MethodNotAllowed)
            {
                return null;
            }
            return await ReadAsync(r, "GET " + path, token).ConfigureAwait(false);
        });

    /// <summary>POST of a JSON body; <paramref name="timeout"/> for a request that works before it answers (default <see cref="DefaultTimeout"/>).</summary>
    public Task<JsonElement> PostJsonAsync(string path, object body, CancellationToken ct, TimeSpan? timeout = null) =>
        SendAsync(HttpMethod.Post, path, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, JsonOptions)), ct, timeout);

    /// <summary>POST that reports a 409 Conflict (e.g. "nothing to export") as null.</summary>
    public Task<JsonElement?> TryPostJsonAsync(string path, object body, CancellationToken ct) =>
        DeadlineAsync<JsonElement?>("POST " + path, null, ct, async token =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
            {
                Content = new ByteArrayContent(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, JsonOptions))),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using HttpResponseMessage r = await _http.SendAsync(request, token).ConfigureAwait(false);
            if (r.StatusCode == System.Net.HttpStatusCode.Conflict)
            {
                return null;
            }
            return await ReadAsync(r, "POST " + path, token).ConfigureAwait(false);
        });

    public Task<JsonElement> PutBytesAsync(string path, byte[] json, CancellationToken ct) => SendAsync(HttpMethod.Put, path, json, ct);

    private Task<JsonElement> SendAsync(HttpMethod method, string path, byte[] json, CancellationToken ct, TimeSpan? timeout = null) =>
        DeadlineAsync($"{method} {path}", timeout, ct, async token =>
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(json) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using HttpResponseMessage r = await _http.SendAsync(request, token).ConfigureAwait(false);
            return await ReadAsync(r, $"{method} {path}", token).ConfigureAwait(false);
        });

    /// <summary>Runs one request under its deadline; the caller's cancellation stays a cancellation, a missed deadline a timeout.</summary>
    private static async Task<T> DeadlineAsync<T>(string what, TimeSpan? timeout, CancellationToken ct, Func<CancellationToken, Task<T>> request)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(limit);
        try
        {
            return await request(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"{what}: no answer from the gateway within {limit.TotalSeconds:0.###} s", ex);
        }
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

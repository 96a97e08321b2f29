using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeKws.Gateway.Tests.Dashboard;

/// <summary>
/// Debian's Chromium, headless, driven over the Chrome DevTools Protocol (a WebSocket; no npm, no driver). Fails
/// clearly (never skips) when /usr/bin/chromium is missing. Flags: no sandbox (root), no GPU, no QUIC, no background
/// networking, component updates or sync, a fresh profile directory: the browser reaches only the page we load.
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    public static async Task<HeadlessChromium> StartAsync(int widthPx, int heightPx)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: the dashboard test needs Debian's chromium (apt-get install chromium)");
        string profile = Path.Combine(Path.GetTempPath(), "edgekws-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        var psi = new ProcessStartInfo(Executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
                     "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                     $"--window-size={widthPx},{heightPx}", "about:blank",
                 })
        {
            psi.ArgumentList.Add(a);
        }
        var process = Process.Start(psi) ?? throw new InvalidOperationException("chromium did not start");
        var browser = new HeadlessChromium(process, profile);
        var endpoint = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (log)
            {
                log.AppendLine(e.Data);
            }
            const string marker = "DevTools listening on ";
            int at = e.Data.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                endpoint.TrySetResult(e.Data[(at + marker.Length)..].Trim());
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        // Liveness bounds: a browser start on a loaded 2-core CI machine can take tens of seconds.
        Task done = await Task.WhenAny(endpoint.Task, Task.Delay(StartTimeout));
        if (done != endpoint.Task)
        {
            await browser.DisposeAsync();
            Assert.Fail($"chromium printed no DevTools endpoint within {StartTimeout.TotalSeconds:0} s: " + log);
        }
        var browserWs = new Uri(endpoint.Task.Result);
        using var http = new HttpClient();
        // The DevTools endpoint is printed before the about:blank page target necessarily exists: poll for it.
        string? pageWs = null;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (pageWs is null)
        {
            JsonElement targets = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{browserWs.Port}/json/list")).RootElement;
            pageWs = targets.EnumerateArray().FirstOrDefault(t => t.GetProperty("type").GetString() == "page") is { ValueKind: JsonValueKind.Object } page
                ? page.GetProperty("webSocketDebuggerUrl").GetString()
                : null;
            if (pageWs is null)
            {
                Assert.True(waited.Elapsed < StartTimeout, $"chromium listed no page target within {StartTimeout.TotalSeconds:0} s: {targets}");
                await Task.Delay(100);
            }
        }
        await browser._socket.ConnectAsync(new Uri(pageWs), CancellationToken.None);
        return browser;
    }

    /// <summary>Sends a CDP command and returns its result (events arriving meanwhile are ignored).</summary>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null)
    {
        JsonElement reply = await SendForReplyAsync(method, parameters);
        Assert.False(reply.TryGetProperty("error", out JsonElement err), $"CDP {method} failed: {err}");
        return reply.GetProperty("result");
    }

    private async Task<JsonElement> SendForReplyAsync(string method, JsonObject? parameters)
    {
        int id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(StartTimeout);
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var ms = new MemoryStream();
            WebSocketReceiveResult r;
            do
            {
                r = await _socket.ReceiveAsync(buffer, timeout.Token);
                ms.Write(buffer, 0, r.Count);
            }
            while (!r.EndOfMessage);
            JsonElement reply = JsonDocument.Parse(ms.ToArray()).RootElement.Clone();
            if (reply.TryGetProperty("id", out JsonElement rid) && rid.GetInt32() == id)
            {
                return reply;
            }
        }
    }

    /// <summary>
    /// Polls <paramref name="expression"/> (a page-summary expression that returns a JSON string once the page is ready, else null)
    /// every 200 ms until it answers or <paramref name="timeout"/> passes; returns the parsed summary, or default when it never did.
    /// </summary>
    public async Task<JsonElement> WaitForJsonAsync(string expression, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            JsonElement v = await PollAsync(expression);
            if (v.ValueKind == JsonValueKind.String)
            {
                return JsonDocument.Parse(v.GetString()!).RootElement.Clone();
            }
            await Task.Delay(200);
        }
        return default;
    }

    /// <summary>
    /// One poll of a waiting loop: evaluates <paramref name="expression"/>, and answers default ("not yet") when the page is
    /// between documents (a form's POST or a redirect replaced it while the evaluation was in flight), which CDP reports as an
    /// error, not a value. Any other CDP error or page exception still fails the test.
    /// </summary>
    private async Task<JsonElement> PollAsync(string expression)
    {
        JsonElement reply = await SendForReplyAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
        if (reply.TryGetProperty("error", out JsonElement err))
        {
            string message = err.TryGetProperty("message", out JsonElement m) ? m.GetString() ?? "" : "";
            Assert.True(IsNavigationRace(message), $"CDP Runtime.evaluate failed: {err}");
            return default;
        }
        JsonElement r = reply.GetProperty("result");
        Assert.False(r.TryGetProperty("exceptionDetails", out JsonElement ex), $"page script threw: {ex}");
        return r.GetProperty("result").TryGetProperty("value", out JsonElement v) ? v.Clone() : default;
    }

    private static bool IsNavigationRace(string cdpMessage) =>
        cdpMessage.Contains("navigated or closed", StringComparison.Ordinal)
        || cdpMessage.Contains("Cannot find context", StringComparison.Ordinal)
        || cdpMessage.Contains("Execution context was destroyed", StringComparison.Ordinal);

    /// <summary>Evaluates a JavaScript expression in the page and returns its value (a promise's value when <paramref name="awaitPromise"/>).</summary>
    public async Task<JsonElement> EvaluateAsync(string expression, bool awaitPromise = false)
    {
        JsonElement r = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = awaitPromise });
        Assert.False(r.TryGetProperty("exceptionDetails", out JsonElement ex), $"page script threw: {ex}");
        return r.GetProperty("result").TryGetProperty("value", out JsonElement v) ? v.Clone() : default;
    }

    /// <summary>
    /// Opens <paramref name="page"/> signed out: the gateway answers with the login form (401) in its place; types
    /// <paramref name="token"/> into it and submits, as a person would. The form's POST sets the session cookie and returns to the page.
    /// </summary>
    public async Task LoginAsync(Uri page, string token)
    {
        await SendAsync("Page.enable");
        await SendAsync("Page.navigate", new JsonObject { ["url"] = page.ToString() });
        await WaitUntilAsync("document.readyState === 'complete' && !!document.getElementById('login')", $"{page} did not show the login form");
        await EvaluateAsync($$"""
            (() => { document.getElementById("token").value = {{JsonSerializer.Serialize(token)}}; document.getElementById("login").submit(); return 1; })()
            """);
        // Returns once the POST has set the session cookie and the page it returned to has loaded (no login form): a caller that
        // navigates on at once would otherwise race the POST under load and land on the login form again.
        await WaitUntilAsync("document.readyState === 'complete' && !document.getElementById('login')", $"signing in to {page} did not finish (the login form is still shown)");
    }

    /// <summary>Polls <paramref name="condition"/> every 200 ms until it is true; fails with <paramref name="failure"/> after 120 s (liveness under CI load).</summary>
    private async Task WaitUntilAsync(string condition, string failure)
    {
        DateTime end = DateTime.UtcNow.AddSeconds(120);
        while ((await PollAsync(condition)).ValueKind != JsonValueKind.True)
        {
            Assert.True(DateTime.UtcNow < end, failure + " within 120 s");
            await Task.Delay(200);
        }
    }

    /// <summary>Presses and releases one key as a person would (trusted key events to the focused page): a letter, " " or an arrow name.</summary>
    public async Task PressKeyAsync(string key)
    {
        (string code, int virtualKey, string? text) = key switch
        {
            " " => ("Space", 32, " "),
            "ArrowDown" => ("ArrowDown", 40, null),
            "ArrowUp" => ("ArrowUp", 38, null),
            _ when key.Length == 1 && char.IsAsciiLetterLower(key[0]) => ("Key" + char.ToUpperInvariant(key[0]), char.ToUpperInvariant(key[0]), key),
            _ => throw new ArgumentException($"no key mapping for '{key}'", nameof(key)),
        };
        foreach (string type in new[] { text is null ? "rawKeyDown" : "keyDown", "keyUp" })
        {
            var p = new JsonObject { ["type"] = type, ["key"] = key, ["code"] = code, ["windowsVirtualKeyCode"] = virtualKey };
            if (type == "keyDown" && text is not null)
            {
                p["text"] = text;
            }
            await SendAsync("Input.dispatchKeyEvent", p);
        }
    }

    /// <summary>The browser's cookies for <paramref name="url"/> (name, httpOnly, sameSite, ...), as DevTools reports them.</summary>
    public async Task<JsonElement[]> CookiesAsync(Uri url)
    {
        JsonElement r = await SendAsync("Network.getCookies", new JsonObject { ["urls"] = new JsonArray(url.ToString()) });
        return [.. r.GetProperty("cookies").EnumerateArray()];
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
        }
        catch (WebSocketException)
        {
            // The browser is going away anyway.
        }
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // A profile file still locked by an exiting child must not fail the test.
        }
    }
}

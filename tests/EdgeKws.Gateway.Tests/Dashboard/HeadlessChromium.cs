using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
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
                Assert.False(reply.TryGetProperty("error", out JsonElement err), $"CDP {method} failed: {err}");
                return reply.GetProperty("result");
            }
        }
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        JsonElement r = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true });
        Assert.False(r.TryGetProperty("exceptionDetails", out JsonElement ex), $"page script threw: {ex}");
        return r.GetProperty("result").TryGetProperty("value", out JsonElement v) ? v.Clone() : default;
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

/// <summary>Just enough PNG decoding to check a screenshot: 8-bit RGB or RGBA, not interlaced (what Chromium writes).</summary>
internal static class Png
{
    public sealed record Image(int Width, int Height, byte[] Rgb);

    public static Image Decode(byte[] png)
    {
        Assert.True(png.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }), "not a PNG");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (int at = 8; at < png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = Encoding.ASCII.GetString(png, at + 4, 4);
            ReadOnlySpan<byte> data = png.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);
                channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new NotSupportedException($"PNG colour type {data[9]}") };
                Assert.Equal(0, data[12]);
            }
            else if (type == "IDAT")
            {
                idat.Write(data);
            }
            at += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        byte[] bytes = raw.ToArray();
        int stride = width * channels;
        var prev = new byte[stride];
        var cur = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, (y * (stride + 1)) + 1, cur, 0, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? cur[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => pa <= pb && pa <= pc ? a : pb <= pc ? b : c,
                    _ => throw new NotSupportedException($"PNG filter {filter}"),
                };
                cur[i] = (byte)(cur[i] + predictor);
            }
            for (int x = 0; x < width; x++)
            {
                Array.Copy(cur, x * channels, rgb, ((y * width) + x) * 3, 3);
            }
            (prev, cur) = (cur, prev);
        }
        return new Image(width, height, rgb);
    }
}

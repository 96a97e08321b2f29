using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Host;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Tests.Api;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Host;

/// <summary>
/// The host's <c>token</c> commands as an operator runs them (the exe as a child process, its own store connection) against a
/// gateway running as another child process: a fresh gateway has no token and answers 401; <c>token create</c> prints a token once
/// that works at once; <c>token list</c> never shows it; <c>token revoke</c> makes it 401.
/// </summary>
public sealed class TokenCli_Tests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Token_create_prints_it_once_list_never_shows_it_revoke_makes_it_401_on_a_running_gateway()
    {
        string db = _dir.File("gateway.db");
        string store = "--Gateway:Store:DatabasePath=" + db;
        using GatewayChild gateway = await GatewayChild.StartAsync(_dir.Path, store,
            "--Gateway:Broker:Port=" + TestWait.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture));
        // No token yet: the gateway runs, says how to make one, and answers 401.
        // (The console logger writes from its own queue: the notice may come just after "gateway: ready".)
        await TestWait.UntilAsync(() => gateway.Lines.Any(l => l.Contains("no API token exists", StringComparison.Ordinal) && l.Contains("token create", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => "no bootstrap notice: " + gateway.Output());
        using var http = new HttpClient { BaseAddress = gateway.HttpAddress, Timeout = TimeSpan.FromSeconds(120) };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/devices")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

        (int code, string stdout, string stderr) = await RunHostAsync("token", "create", "--name", "ops", "--role", "operator", store);
        Assert.True(code == 0, stderr);
        string token = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.True(ApiToken.LooksLikeToken(token), stdout);
        Assert.Contains("shown only this once", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(token, stderr, StringComparison.Ordinal);

        // The running gateway reads the store on each request: the new token works at once, with its role.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/session");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage session = await http.SendAsync(request);
        string sessionText = await session.Content.ReadAsStringAsync();
        Assert.True(session.StatusCode == HttpStatusCode.OK, sessionText);
        Assert.Equal(("ops", "operator"), (JsonDocument.Parse(sessionText).RootElement.GetProperty("name").GetString(), JsonDocument.Parse(sessionText).RootElement.GetProperty("role").GetString()));

        (code, stdout, stderr) = await RunHostAsync("token", "list", store);
        Assert.True(code == 0, stderr);
        Assert.Contains("ops", stdout, StringComparison.Ordinal);
        Assert.Contains("operator", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(token, stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(token[ApiToken.Prefix.Length..][..12], stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(ApiToken.Hash(token))[..16], stdout, StringComparison.OrdinalIgnoreCase);

        (code, _, stderr) = await RunHostAsync("token", "create", "--name", "ops", "--role", "admin", store);
        Assert.Equal(1, code);
        Assert.Contains("an active token named 'ops' exists", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await RunHostAsync("token", "create", "--name", "x", "--role", "root", store);
        Assert.Equal(2, code);
        Assert.Contains("--role must be viewer, reviewer, operator or admin", stderr, StringComparison.Ordinal);

        (code, stdout, stderr) = await RunHostAsync("token", "revoke", "--name", "ops", store);
        Assert.True(code == 0, stderr);
        Assert.Contains("revoked", stdout, StringComparison.Ordinal);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/devices");
        again.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage refused = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("invalid_token", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        (code, stdout, _) = await RunHostAsync("token", "list", store);
        Assert.DoesNotContain(" ops ", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await RunHostAsync("token", "list", "--all", store);
        Assert.Contains("revoked", stdout, StringComparison.Ordinal);
        (code, _, stderr) = await RunHostAsync("token", "revoke", "--name", "ops", store);
        Assert.Equal(1, code);

        // The CLI's changes are in the audit log, which an admin token (made the same way) reads through the API.
        (code, stdout, stderr) = await RunHostAsync("token", "create", "--name", "root", "--role", "admin", store);
        Assert.True(code == 0, stderr);
        using var audit = new HttpRequestMessage(HttpMethod.Get, "/api/audit-log?limit=10");
        audit.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stdout.Trim());
        using HttpResponseMessage auditResponse = await http.SendAsync(audit);
        string auditText = await auditResponse.Content.ReadAsStringAsync();
        Assert.True(auditResponse.StatusCode == HttpStatusCode.OK, auditText);
        string[] rows = [.. JsonDocument.Parse(auditText).RootElement.GetProperty("items").EnumerateArray()
            .Select(a => $"{a.GetProperty("actor").GetString()} {a.GetProperty("route").GetString()} {a.GetProperty("status").GetInt32()}")];
        Assert.Equal(["cli token create 201", "cli token revoke 404", "cli token revoke 200", "cli token create 409", "cli token create 201"], rows);
        Assert.DoesNotContain(token, auditText, StringComparison.Ordinal);
        await gateway.StopGracefullyAsync();
    }

    [Fact]
    public async Task Serves_https_with_the_configured_pem_certificate_and_marks_the_session_cookie_secure()
    {
        TestCertificates pki = TestCertificates.Create(_dir.Path, "unused-client");
        await using WebGateway g = await WebGateway.StartAsync([], "--Gateway:Http:Tls:Enabled=true",
            "--Gateway:Http:Tls:CertificatePemPath=" + pki.ServerPem, "--Gateway:Http:Tls:KeyPemPath=" + pki.ServerKey);
        Uri address = g.BaseAddress;
        Assert.Equal("https", address.Scheme);
        string token = g.CreateToken("tls-viewer", ApiRole.Viewer);
        using X509Certificate2 ca = X509Certificate2.CreateFromPem(File.ReadAllText(pki.CaPem));
        var handler = new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            // Trust exactly the test CA: the chain must end in it (and nothing from the system store is consulted).
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is X509Certificate2 c && chain.Build(c);
        };
        using var https = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(120) };
        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await https.GetAsync("/api/devices")).StatusCode);
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/devices"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            Assert.Equal(HttpStatusCode.OK, (await https.SendAsync(request)).StatusCode);
        }
        using (var login = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent([new("token", token), new("returnUrl", "/")]) })
        using (HttpResponseMessage r = await https.SendAsync(login))
        {
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            string cookie = Assert.Single(r.Headers.GetValues("Set-Cookie"));
            Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        }
        // Plain HTTP on the same port is not served.
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync(new UriBuilder(address) { Scheme = "http" }.Uri + "healthz"));
    }

    [Fact]
    public async Task Token_help_exits_0_and_lists_each_commands_options()
    {
        (int code, string stdout, string stderr) = await RunTokenAsync(["create", "--help"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("--name", stdout, StringComparison.Ordinal);
        Assert.Contains("--role <viewer|reviewer|operator|admin>", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await RunTokenAsync(["revoke", "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("--id", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await RunTokenAsync(["--help"]);
        Assert.Equal(0, code);
        Assert.Contains("list", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "revoke", "--id", "0" }, "--id must be a positive number")]
    [InlineData(new[] { "revoke", "--name", "ops", "--id", "3" }, "revoke needs exactly one of --name NAME or --id N")]
    [InlineData(new[] { "create", "--name", ".hidden", "--role", "viewer" }, "--name must be 1..64 of A-Z a-z 0-9 . _ @ -")]
    [InlineData(new[] { "create", "--name", "ops" }, "Option '--role' is required")]
    [InlineData(new[] { "list", "--store", "x.db" }, "unexpected argument '--store'")]
    public async Task A_token_usage_error_exits_2_naming_the_option_before_opening_the_store(string[] args, string expected)
    {
        (int code, string stdout, string stderr) = await RunTokenAsync(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task Configuration_overrides_after_the_options_open_the_store_in_both_spellings()
    {
        string[]? seen = null;
        Command token = TokenCli.CreateCommand(settings =>
        {
            seen = settings;
            throw new ArgumentException("store refused");
        });
        var stderr = new StringWriter();
        int code = await GatewayCommandLine.InvokeAsync(new RootCommand { token },
            ["token", "list", "--all", "--Gateway:Store:DatabasePath", "/x/g.db", "--Logging:LogLevel:Default=Warning"], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.Contains("token: store refused", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(["--Gateway:Store:DatabasePath", "/x/g.db", "--Logging:LogLevel:Default=Warning"], seen!);
    }

    [Fact]
    public async Task Host_help_exits_0_and_device_commands_refuse_a_missing_device_id_with_exit_2()
    {
        (int code, string stdout, _) = await RunHostAsync("--help");
        Assert.Equal(0, code);
        foreach (string command in new[] { "device", "token", "model" })
        {
            Assert.Contains(command, stdout, StringComparison.Ordinal);
        }
        (code, stdout, _) = await RunHostAsync("device", "erase", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--keep-credential", stdout, StringComparison.Ordinal);
        (code, stdout, string stderr) = await RunHostAsync("device", "add", "--Gateway:Store:DatabasePath=" + _dir.File("g.db"));
        Assert.Equal(2, code);
        Assert.Contains("<deviceId> is missing", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.False(File.Exists(_dir.File("g.db")), "a usage error opens no store");
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunTokenAsync(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Command token = TokenCli.CreateCommand(_ => throw new InvalidOperationException("a usage error must not open the store"));
        int code = await GatewayCommandLine.InvokeAsync(new RootCommand { token }, ["token", .. args], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs <c>dotnet EdgeKws.Gateway.Host.dll args...</c> to its end.</summary>
    private async Task<(int Code, string Stdout, string Stderr)> RunHostAsync(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "EdgeKws.Gateway.Host.dll");
        var psi = new ProcessStartInfo(ChildProcess.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir.Path };
        foreach (string a in new[] { "exec", dll }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync(), stderr = p.StandardError.ReadToEndAsync();
        using var liveness = new CancellationTokenSource(TimeSpan.FromMinutes(3)); // a dotnet start on a loaded CI machine
        await p.WaitForExitAsync(liveness.Token);
        output.WriteLine($"$ token {string.Join(' ', args.Skip(1).Where(a => !a.StartsWith("--Gateway", StringComparison.Ordinal)))} -> {p.ExitCode}\n{await stderr}");
        return (p.ExitCode, await stdout, await stderr);
    }
}

using System.Globalization;
using System.Net;
using System.Text.Json;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MQTTnet;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Api;

/// <summary>
/// Authentication, roles and the audit log on the whole route table of a real gateway (Kestrel on a loopback port, SQLite):
/// every endpoint is called anonymously, with the role below the one it declares, with a viewer token, and with its own role.
/// </summary>
public sealed class ApiAccess_Tests(ITestOutputHelper output)
{
    /// <summary>The only routes that answer without a token. Adding an open route means adding it here, on purpose.</summary>
    private static readonly string[] OpenRoutes = ["GET /healthz", "GET /login", "POST /login", "POST /logout"];

    private sealed record Route(string Method, string Pattern, string Path, ApiRole? Role, bool Open)
    {
        public bool ChangesState => !ApiAuth.IsSafeMethod(Method);

        public override string ToString() => $"{Method} {Pattern}";
    }

    [Fact]
    public async Task Every_route_refuses_anonymous_401_and_lower_roles_403_admits_its_role_and_audits_every_state_change()
    {
        await using WebGateway g = await WebGateway.StartAsync(["dev-a"]);
        Route[] routes = Routes(g);
        output.WriteLine($"{routes.Length} routes: " + string.Join(", ", routes.Select(r => $"{r} ({(r.Open ? "open" : r.Role)})")));
        Assert.Equal(OpenRoutes.Order(StringComparer.Ordinal), routes.Where(r => r.Open).Select(r => r.ToString()).Order(StringComparer.Ordinal));
        Assert.All(routes, r => Assert.True(r.Open || r.Role is not null, $"{r} declares no role"));
        Assert.True(routes.Length >= 50, $"only {routes.Length} routes found: is the route table read right?");
        // Reads are for viewers; nothing that changes state is.
        Assert.All(routes.Where(r => r.ChangesState && !r.Open), r => Assert.True(r.Role > ApiRole.Viewer, $"{r} changes state with role {r.Role}"));

        Dictionary<ApiRole, (string Name, HttpClient Client)> byRole = Enum.GetValues<ApiRole>()
            .ToDictionary(r => r, r => ("as-" + ApiToken.RoleName(r), g.ClientFor("as-" + ApiToken.RoleName(r), r)));
        int calls = 0, audited = 0;
        long lastId = g.Service.Store.ReadAudit(null, 1).FirstOrDefault()?.Id ?? 0;
        foreach (Route r in routes.Where(x => !x.Open))
        {
            // Anonymous: 401 with the Bearer challenge.
            using (HttpResponseMessage anon = await CallAsync(g.Anonymous, r))
            {
                Assert.True(anon.StatusCode == HttpStatusCode.Unauthorized, $"anonymous {r}: {(int)anon.StatusCode}");
                Assert.StartsWith("Bearer", anon.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            }
            calls += r.ChangesState ? 1 : 0;
            audited += AssertAudited(g, r, null, 401, ref lastId);

            // A viewer may change nothing; the role just below the declared one is refused too.
            var refusedBy = new HashSet<ApiRole>();
            if (r.ChangesState)
            {
                refusedBy.Add(ApiRole.Viewer);
            }
            if (r.Role > ApiRole.Viewer)
            {
                refusedBy.Add(r.Role.Value - 1);
            }
            foreach (ApiRole low in refusedBy)
            {
                using HttpResponseMessage refused = await CallAsync(byRole[low].Client, r);
                string body = await refused.Content.ReadAsStringAsync();
                Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{low} {r}: {(int)refused.StatusCode} {body}");
                Assert.Contains($"needs {ApiToken.RoleName(r.Role!.Value)}", body, StringComparison.Ordinal);
                calls += r.ChangesState ? 1 : 0;
                audited += AssertAudited(g, r, byRole[low].Name, 403, ref lastId);
            }

            // Its own role gets past authentication and authorization (the answer is then the endpoint's: 200, 400, 404, ...).
            using HttpResponseMessage admitted = await CallAsync(byRole[r.Role!.Value].Client, r);
            Assert.True(admitted.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.InternalServerError),
                $"{r.Role} {r}: {(int)admitted.StatusCode} {await admitted.Content.ReadAsStringAsync()}");
            calls += r.ChangesState ? 1 : 0;
            audited += AssertAudited(g, r, byRole[r.Role.Value].Name, (int)admitted.StatusCode, ref lastId);
        }
        output.WriteLine($"{calls} state-changing calls, {audited} audit rows checked");
        Assert.Equal(calls, audited);
        Assert.True(audited >= 3 * routes.Count(r => r.ChangesState && !r.Open));
    }

    [Fact]
    public async Task The_right_roles_change_state_and_the_audit_log_says_who_did_what_newest_first()
    {
        await using WebGateway g = await WebGateway.StartAsync(["dev-a"]);
        HttpClient viewer = g.ClientFor("vera", ApiRole.Viewer), reviewer = g.ClientFor("rita", ApiRole.Reviewer), op = g.ClientFor("otto", ApiRole.Operator);
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, "dev-a"))
        {
            Assert.Equal(MqttClientPublishReasonCode.Success, await pub.PublishAsync(Topics.Uplink("dev-a", MessageKind.Detection),
                WireJson.Serialize(Wire.Detection("dev-a", 1)), Wire.Properties(1, MessageKind.Detection, Wire.ConfigHash), ContentTypes.Json));
        }

        // Prometheus needs a viewer token.
        Assert.Equal(HttpStatusCode.Unauthorized, (await g.Anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.GetAsync("/metrics")).StatusCode);

        // A reviewer labels, an operator sets a cohort, posts an evaluation and erases a device's data.
        (int status, JsonElement body) = await g.SendJsonAsync(HttpMethod.Post, "/api/labels", new[] { new { deviceId = "dev-a", sequence = 1, label = "FalseAccept", source = "import:csv" } }, reviewer);
        Assert.True(status == 200, body.ToString());
        Assert.Equal(1, body.GetProperty("stored").GetInt32());
        Assert.Equal(200, (await g.SendJsonAsync(HttpMethod.Put, "/api/devices/dev-a/cohort", new { cohort = "lab" }, op)).Status);
        Assert.Equal(201, (await g.SendJsonAsync(HttpMethod.Post, "/api/evaluations",
            new { modelVersion = "kws-9", name = "set-1", negativeHours = 1.0, trials = new[] { new { score = 0.9f, positive = true }, new { score = 0.1f, positive = false } } }, op)).Status);
        (status, body) = await g.SendJsonAsync(HttpMethod.Delete, "/api/devices/dev-a/data?keepCredential=true", new { }, op);
        Assert.True(status == 200, body.ToString());
        Assert.Equal(1, body.GetProperty("erased").GetProperty("labels").GetInt64());

        // An admin makes a token (shown in that answer only), lists tokens (never a token), and revokes it: it stops at once.
        Assert.Equal(403, (await g.SendJsonAsync(HttpMethod.Post, "/api/tokens", new { name = "nope", role = "viewer" }, op)).Status);
        (status, body) = await g.SendJsonAsync(HttpMethod.Post, "/api/tokens", new { name = "kiosk", role = "viewer" });
        Assert.True(status == 201, body.ToString());
        string kiosk = body.GetProperty("token").GetString()!;
        long kioskId = body.GetProperty("id").GetInt64();
        Assert.StartsWith(ApiToken.Prefix, kiosk, StringComparison.Ordinal);
        Assert.Equal(409, (await g.SendJsonAsync(HttpMethod.Post, "/api/tokens", new { name = "kiosk", role = "admin" })).Status);
        HttpClient kioskClient = g.NewClient(kiosk);
        Assert.Equal("kiosk", (await g.GetJsonAsync("/api/session", kioskClient)).GetProperty("name").GetString());
        string list = await g.Http.GetStringAsync("/api/tokens");
        Assert.Contains("\"kiosk\"", list, StringComparison.Ordinal);
        Assert.DoesNotContain(kiosk, list, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(ApiToken.Hash(kiosk)), list, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(200, (await g.SendJsonAsync(HttpMethod.Delete, $"/api/tokens/{kioskId}", new { })).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await kioskClient.GetAsync("/api/devices")).StatusCode);
        Assert.Equal(404, (await g.SendJsonAsync(HttpMethod.Delete, $"/api/tokens/{kioskId}", new { })).Status);

        // The audit log (operators): newest first, who, role, route, arguments, status; the token itself appears nowhere.
        Assert.Equal(HttpStatusCode.Forbidden, (await reviewer.GetAsync("/api/audit-log")).StatusCode);
        string auditText = await op.GetStringAsync("/api/audit-log?limit=100");
        Assert.DoesNotContain(kiosk, auditText, StringComparison.Ordinal);
        JsonElement[] rows = [.. JsonDocument.Parse(auditText).RootElement.GetProperty("items").EnumerateArray()];
        string Row(JsonElement a) => string.Create(CultureInfo.InvariantCulture,
            $"{a.GetProperty("actor").GetString()}/{a.GetProperty("role").GetString()} {a.GetProperty("method").GetString()} {a.GetProperty("route").GetString()} {a.GetProperty("status").GetInt32()}");
        Assert.Equal(
        [
            "test-admin/admin DELETE /api/tokens/{id:long} 404",
            "test-admin/admin DELETE /api/tokens/{id:long} 200",
            "test-admin/admin POST /api/tokens 409",
            "test-admin/admin POST /api/tokens 201",
            "otto/operator POST /api/tokens 403",
            "otto/operator DELETE /api/devices/{id}/data 200",
            "otto/operator POST /api/evaluations 201",
            "otto/operator PUT /api/devices/{id}/cohort 200",
            "rita/reviewer POST /api/labels 200",
        ], rows.Select(Row));
        Assert.True(rows.Zip(rows.Skip(1)).All(p => p.First.GetProperty("id").GetInt64() > p.Second.GetProperty("id").GetInt64()), "newest first");
        JsonElement args(int i) => rows[i].GetProperty("arguments");
        Assert.Equal(("kiosk", "viewer"), (args(3).GetProperty("body").GetProperty("name").GetString(), args(3).GetProperty("body").GetProperty("role").GetString()));
        Assert.Equal(("dev-a", true), (args(5).GetProperty("id").GetString(), args(5).GetProperty("keepCredential").GetBoolean()));
        Assert.Equal(2, args(6).GetProperty("body").GetProperty("trials").GetArrayLength());
        Assert.Equal("lab", args(7).GetProperty("body").GetProperty("cohort").GetString());
        Assert.Equal("import:csv", args(8).GetProperty("body")[0].GetProperty("source").GetString());
        Assert.Equal("127.0.0.1", rows[0].GetProperty("remote").GetString());

        // Paging: `next` continues below the page's last id.
        JsonElement page1 = await g.GetJsonAsync("/api/audit-log?limit=4", op);
        long next = page1.GetProperty("next").GetInt64();
        JsonElement page2 = await g.GetJsonAsync($"/api/audit-log?limit=4&before={next}", op);
        Assert.Equal(rows.Skip(4).Take(4).Select(Row), page2.GetProperty("items").EnumerateArray().Select(Row));
    }

    [Fact]
    public async Task Refuses_out_of_range_buckets_sizes_and_dates_with_400_naming_the_field()
    {
        await using WebGateway g = await WebGateway.StartAsync(["dev-a"]);
        foreach (string path in new[]
                 {
                     "/api/metrics/fa/series?window=24h&bucket=2147483647d", "/api/metrics/drift/heatmap?model=m&window=24h&bucket=2147483647d",
                     "/api/metrics/fa/series?bucket=99999999999999d", "/api/metrics/fa/series?window=1h&bucket=2h", "/api/metrics/fa/series?bucket=0h",
                     "/api/model-loop/versions/series?window=24h&bucket=2147483647d", "/api/model-loop/versions/series?bucket=0h",
                 })
        {
            using HttpResponseMessage r = await g.Http.GetAsync(path);
            string text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)r.StatusCode} {text}");
            Assert.Contains("bucket", JsonDocument.Parse(text).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        async Task<string> RefusedAsync(HttpMethod method, string path, object body)
        {
            (int status, JsonElement b) = await g.SendJsonAsync(method, path, body);
            Assert.True(status == 400, $"{method} {path}: {status} {b}");
            return b.GetProperty("error").GetString()!;
        }
        string hugeName = new('x', 10 * 1024 * 1024);
        Assert.StartsWith("name must be", await RefusedAsync(HttpMethod.Post, "/api/evaluations",
            new { modelVersion = "kws-1", name = hugeName, negativeHours = 1.0, trials = new[] { new { score = 0.5f, positive = true } } }), StringComparison.Ordinal);
        Assert.StartsWith("negativeHours", await RefusedAsync(HttpMethod.Post, "/api/evaluations",
            new { modelVersion = "kws-1", name = "n", negativeHours = 1e300, trials = new[] { new { score = 0.5f, positive = true } } }), StringComparison.Ordinal);
        Assert.StartsWith("[0].labeledUtc", await RefusedAsync(HttpMethod.Post, "/api/labels",
            new[] { new { deviceId = "dev-a", sequence = 1, label = "FalseAccept", source = "t", labeledUtc = "0001-01-01T00:00:00Z" } }), StringComparison.Ordinal);
        Assert.Contains("labeledUtc", await RefusedAsync(HttpMethod.Post, "/api/labels",
            new[] { new { deviceId = "dev-a", sequence = 1, label = "FalseAccept", source = "t", labeledUtc = "yesterday" } }), StringComparison.Ordinal);
        Assert.StartsWith("[0].source", await RefusedAsync(HttpMethod.Post, "/api/labels",
            new[] { new { deviceId = "dev-a", sequence = 1, label = "FalseAccept", source = new string('s', 5000) } }), StringComparison.Ordinal);
        Assert.StartsWith("reason", await RefusedAsync(HttpMethod.Post, "/api/rollouts/1/rollback", new { reason = new string('r', 100_000) }), StringComparison.Ordinal);
        using HttpResponseMessage badLimit = await g.Http.GetAsync("/api/audit-log?limit=abc");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
        Assert.Contains("limit", await badLimit.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Model_jobs_take_names_inside_the_gateways_directories_and_refuse_paths_alike_whether_or_not_a_file_exists()
    {
        using var dirs = new TempDirectory();
        string imports = Directory.CreateDirectory(dirs.File("imports")).FullName;
        string sets = Directory.CreateDirectory(dirs.File("sets")).FullName;
        string datasets = Directory.CreateDirectory(dirs.File("datasets")).FullName;
        await File.WriteAllTextAsync(Path.Combine(sets, "streams.json"), "{}");
        await using WebGateway g = await WebGateway.StartAsync(["dev-a"], "--Gateway:Models:ImportDirectory=" + imports,
            "--Gateway:Models:EvaluationSetDirectory=" + sets, "--Gateway:Labeling:DatasetDirectory=" + datasets);
        Assert.True(File.Exists("/etc/passwd"));
        Assert.False(File.Exists("/etc/edgekws-no-such-file"));

        async Task<string> RefusedAsync(string path, object body)
        {
            (int status, JsonElement b) = await g.SendJsonAsync(HttpMethod.Post, path, body);
            Assert.True(status == 400, $"POST {path}: {status} {b}");
            return b.GetProperty("error").GetString()!;
        }

        // The old path fields are refused by name, before anything is read.
        string exists = await RefusedAsync("/api/registry/models", new { modelVersion = "9.9.9", manifestPath = "/etc/passwd", trainingManifestPath = "/etc/passwd", evaluationSetPath = "/etc/passwd" });
        string missing = await RefusedAsync("/api/registry/models", new { modelVersion = "9.9.9", manifestPath = "/etc/edgekws-no-such-file", trainingManifestPath = "/etc/edgekws-no-such-file", evaluationSetPath = "/etc/edgekws-no-such-file" });
        Assert.Equal(exists.Replace("passwd", "X", StringComparison.Ordinal), missing.Replace("edgekws-no-such-file", "X", StringComparison.Ordinal));
        Assert.Contains("manifestPath", exists, StringComparison.Ordinal);

        // Names that are paths: the same words for a file that exists and one that does not, and for a climb out of the directory.
        foreach (string field in new[] { "manifest", "trainingManifest", "evaluationSet" })
        {
            var refusals = new List<string>();
            foreach (string value in new[] { "/etc/passwd", "/etc/edgekws-no-such-file", "../../../../etc/passwd", "a/../../x", ".hidden", "a//b", "a\\b" })
            {
                var body = new Dictionary<string, object?> { ["modelVersion"] = "9.9.9", ["manifest"] = "m.json", ["trainingManifest"] = "t.json", ["evaluationSet"] = "streams.json" };
                body[field] = value;
                refusals.Add(await RefusedAsync("/api/registry/models", body));
            }
            Assert.Single(refusals.Distinct(StringComparer.Ordinal));
            Assert.StartsWith($"{field} must be a name under", refusals[0], StringComparison.Ordinal);
        }
        Assert.StartsWith("dataset must be a name under Gateway:Labeling:DatasetDirectory",
            await RefusedAsync("/api/model-jobs", new { kind = "Train", modelVersion = "9.9.9", dataset = "/etc", evaluationSet = "streams.json" }), StringComparison.Ordinal);
        // A well-formed name is looked up in its own directory only.
        Assert.Equal("manifest 'm.json' is not a file under Gateway:Models:ImportDirectory",
            await RefusedAsync("/api/registry/models", new { modelVersion = "9.9.9", manifest = "m.json", trainingManifest = "t.json", evaluationSet = "streams.json" }));
        Assert.Equal("dataset 'd1' is not an exported dataset under Gateway:Labeling:DatasetDirectory (no dataset.json)",
            await RefusedAsync("/api/model-jobs", new { kind = "Train", modelVersion = "9.9.9", dataset = "d1", evaluationSet = "streams.json" }));
        Assert.StartsWith("evaluationSet 'nope.json' is not a file",
            await RefusedAsync("/api/model-jobs", new { kind = "Train", modelVersion = "9.9.9", dataset = "d1", evaluationSet = "nope.json" }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_answers_503_and_token_checks_503_when_the_postgres_store_is_down()
    {
        LocalPostgres server = LocalPostgres.Start();
        try
        {
            await using WebGateway g = await WebGateway.StartAsync(["dev-a"], "--Gateway:Store:Provider=Postgres",
                "--Gateway:Store:ConnectionString=" + server.ConnectionString(server.CreateDatabase()));
            Assert.Equal("ok", (await g.GetJsonAsync("/healthz")).GetProperty("status").GetString());
            server.Dispose(); // pg_ctl stop -m fast: the database is gone while the gateway runs

            using HttpResponseMessage health = await g.Anonymous.GetAsync("/healthz");
            string text = await health.Content.ReadAsStringAsync();
            Assert.True(health.StatusCode == HttpStatusCode.ServiceUnavailable, $"/healthz: {(int)health.StatusCode} {text}");
            Assert.Equal("unavailable", JsonDocument.Parse(text).RootElement.GetProperty("status").GetString());
            // A token cannot be checked either: "cannot tell" is 503, not a 401 that would send a client to log in again.
            using HttpResponseMessage api = await g.Http.GetAsync("/api/devices");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
        }
        finally
        {
            server.Dispose();
        }
    }

    /// <summary>Checks the one audit row a state-changing call must have left (none for a read); returns how many rows it checked.</summary>
    private static int AssertAudited(WebGateway g, Route r, string? actor, int status, ref long lastId)
    {
        if (!r.ChangesState)
        {
            return 0;
        }
        IReadOnlyList<AuditRecord> newest = g.Service.Store.ReadAudit(null, 1);
        AuditRecord row = Assert.Single(newest);
        Assert.Equal((r.Method, r.Pattern, r.Path, actor, status), (row.Entry.Method, row.Entry.Route, row.Entry.Path, row.Entry.Actor, row.Entry.Status));
        // Exactly one new row per call.
        Assert.True(row.Id == lastId + 1, $"{r}: audit row {row.Id} after {lastId}");
        lastId = row.Id;
        return 1;
    }

    /// <summary>Every (method, route) of the gateway's endpoint data sources, with a concrete path and what it declares.</summary>
    private static Route[] Routes(WebGateway g) =>
        [.. ((IEndpointRouteBuilder)g.App).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => new Route(m, e.RoutePattern.RawText!, Concrete(e.RoutePattern),
                e.Metadata.GetOrderedMetadata<RequiredRole>().Select(x => (ApiRole?)x.Role).Max(), e.Metadata.GetMetadata<OpenRoute>() is not null)))
            .OrderBy(r => r.Pattern, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal)];

    /// <summary>A path that matches the pattern: numbers far above any id this test makes (so nothing real is revoked or rolled back).</summary>
    private static string Concrete(Microsoft.AspNetCore.Routing.Patterns.RoutePattern pattern)
    {
        string path = pattern.RawText!;
        foreach (Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart p in pattern.Parameters)
        {
            bool number = p.ParameterPolicies.Any(x => x.Content is "long" or "int");
            string value = number ? "999999" : p.Name == "file" ? "index.html" : "x-" + p.Name;
            path = System.Text.RegularExpressions.Regex.Replace(path, "\\{" + p.Name + "(:[^}]*)?\\}", value);
        }
        return path;
    }

    private static async Task<HttpResponseMessage> CallAsync(HttpClient client, Route r)
    {
        using var request = new HttpRequestMessage(new HttpMethod(r.Method), r.Path);
        if (r.ChangesState)
        {
            request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        }
        request.Headers.Accept.ParseAdd("application/json");
        return await client.SendAsync(request);
    }
}

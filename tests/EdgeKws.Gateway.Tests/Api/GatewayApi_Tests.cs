using System.Net;
using System.Text.Json;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Tests.Monitoring;
using Xunit.Abstractions;
using static EdgeKws.Gateway.Tests.Monitoring.FleetSeed;

namespace EdgeKws.Gateway.Tests.Api;

/// <summary>The HTTP API over the SQLite store (the single-instance default).</summary>
public sealed class GatewayApi_Tests(SeededGatewayFixture fixture, ITestOutputHelper output)
    : GatewayApiContract(fixture, output), IClassFixture<SeededGatewayFixture>;

/// <summary>The same API tests over the PostgreSQL store (scale-out mode): the monitoring queries of both stores answer alike.</summary>
public sealed class GatewayApiOnPostgres_Tests(SeededPostgresGatewayFixture fixture, ITestOutputHelper output)
    : GatewayApiContract(fixture, output), IClassFixture<SeededPostgresGatewayFixture>;

/// <summary>The HTTP API over a gateway seeded through the real MQTT ingest path; run once per store by the classes above.</summary>
public abstract class GatewayApiContract(SeededGatewayFixture fixture, ITestOutputHelper output)
{
    private const double ListeningHours = 24 * ListeningSecondsPerHeartbeat / 3600.0; // 23.52 h per device in 24 h

    private WebGateway Gateway => fixture.Gateway;

    private static Dictionary<string, JsonElement> ByKey(JsonElement fa) =>
        fa.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("key").GetString()!);

    [Fact]
    public async Task Healthz_reports_ok_with_store_counts()
    {
        JsonElement h = await Gateway.GetJsonAsync("/healthz");
        Assert.Equal("ok", h.GetProperty("status").GetString());
        Assert.Equal(3 * 54, h.GetProperty("messages").GetInt64());
    }

    [Fact]
    public async Task Lists_devices_with_cohort_model_and_last_seen()
    {
        JsonElement devices = await Gateway.GetJsonAsync("/api/devices");
        Assert.Equal(Devices, devices.EnumerateArray().Select(d => d.GetProperty("deviceId").GetString()));
        JsonElement b = devices[1];
        Assert.Equal(CohortB, b.GetProperty("cohort").GetString());
        Assert.Equal(ModelOld, b.GetProperty("modelVersion").GetString());
        // Silent since the seed's last message: bounded by the time since seeding (plus the seed's 1 min device-time lead),
        // not by a fixed 300 s, which a test run late after its class fixture on a loaded machine could exceed.
        Assert.InRange(b.GetProperty("silentSeconds").GetDouble(), 0, (DateTimeOffset.UtcNow - fixture.SeededAt).TotalSeconds + 120);
        Assert.Equal(JsonValueKind.Null, devices[2].GetProperty("cohort").ValueKind);

        JsonElement detail = await Gateway.GetJsonAsync("/api/devices/dev-a");
        Assert.Equal(3, detail.GetProperty("fa").GetProperty("24h").GetProperty("falseAccepts").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Http.GetAsync("/api/devices/nobody")).StatusCode);
    }

    [Fact]
    public async Task Fa_per_hour_by_device_model_cohort_and_fleet_is_false_accepts_over_listening_hours()
    {
        Dictionary<string, JsonElement> byDevice = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=device"));
        Assert.Equal(3 / ListeningHours, byDevice[DevA].GetProperty("faPerHour").GetDouble(), 9);
        Assert.Equal(ListeningHours, byDevice[DevA].GetProperty("listeningHours").GetDouble(), 9);
        Assert.Equal(2, byDevice[DevA].GetProperty("trueAccepts").GetInt64());
        Assert.Equal(1, byDevice[DevA].GetProperty("unlabelled").GetInt64());
        Assert.Equal(0.0, byDevice[DevB].GetProperty("faPerHour").GetDouble());
        Assert.Equal(1 / ListeningHours, byDevice[DevC].GetProperty("faPerHour").GetDouble(), 9);

        Dictionary<string, JsonElement> byModel = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=model"));
        Assert.Equal(3 / (2 * ListeningHours), byModel[ModelOld].GetProperty("faPerHour").GetDouble(), 9);
        Assert.Equal(1 / ListeningHours, byModel[ModelNew].GetProperty("faPerHour").GetDouble(), 9);

        Dictionary<string, JsonElement> byCohort = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=cohort"));
        Assert.Equal(new[] { FleetMonitor.NoCohort, CohortB, "lab" }.Order(StringComparer.Ordinal), byCohort.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(3 / ListeningHours, byCohort["lab"].GetProperty("faPerHour").GetDouble(), 9);

        Dictionary<string, JsonElement> fleet = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=fleet"));
        Assert.Equal(4 / (3 * ListeningHours), fleet["fleet"].GetProperty("faPerHour").GetDouble(), 9);

        // 1 h window: one heartbeat (ending 1 min ago) per device, and only the detections 2 h ago or newer fall outside it.
        Dictionary<string, JsonElement> lastHour = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=1h&by=device"));
        Assert.Equal(ListeningSecondsPerHeartbeat / 3600, lastHour[DevA].GetProperty("listeningHours").GetDouble(), 9);
        Assert.Equal(0, lastHour[DevA].GetProperty("falseAccepts").GetInt64());
        Assert.Equal(HttpStatusCode.BadRequest, (await Gateway.Http.GetAsync("/api/metrics/fa?window=2h")).StatusCode);
    }

    [Fact]
    public async Task Fa_per_hour_is_a_range_whose_upper_end_counts_the_detection_pending_review()
    {
        // The seed's one pending detection: dev-a seq 30, labelled Unknown (kws-1.0.0, cohort "lab", 2 h ago). Decided values stay as
        // before; the upper end adds it.
        Dictionary<string, JsonElement> byDevice = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=device"));
        Assert.Equal(3 / ListeningHours, byDevice[DevA].GetProperty("faPerHour").GetDouble(), 9);
        Assert.Equal(4 / ListeningHours, byDevice[DevA].GetProperty("faPerHourUpper").GetDouble(), 9);
        Assert.Equal(1, byDevice[DevA].GetProperty("pendingReview").GetInt64());
        // dev-c's five unlabelled detections have no clip: nothing can decide them, so they are not pending.
        Assert.Equal(5, byDevice[DevC].GetProperty("unlabelled").GetInt64());
        Assert.Equal(0, byDevice[DevC].GetProperty("pendingReview").GetInt64());
        Assert.Equal(1 / ListeningHours, byDevice[DevC].GetProperty("faPerHourUpper").GetDouble(), 9);
        Assert.Equal(0.0, byDevice[DevB].GetProperty("faPerHourUpper").GetDouble());

        JsonElement model = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=model"))[ModelOld];
        Assert.Equal((1L, 4 / (2 * ListeningHours)), (model.GetProperty("pendingReview").GetInt64(), model.GetProperty("faPerHourUpper").GetDouble()));
        JsonElement lab = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=cohort"))["lab"];
        Assert.Equal((1L, 4 / ListeningHours), (lab.GetProperty("pendingReview").GetInt64(), lab.GetProperty("faPerHourUpper").GetDouble()));
        JsonElement fleet = ByKey(await Gateway.GetJsonAsync("/api/metrics/fa?window=24h&by=fleet"))["fleet"];
        Assert.Equal(4 / (3 * ListeningHours), fleet.GetProperty("faPerHour").GetDouble(), 9);
        Assert.Equal(5 / (3 * ListeningHours), fleet.GetProperty("faPerHourUpper").GetDouble(), 9);
        Assert.Equal(1, fleet.GetProperty("pendingReview").GetInt64());

        // The series: the pending detection sits in one hourly bucket of kws-1.0.0, whose upper end is one more false accept.
        JsonElement s = await Gateway.GetJsonAsync("/api/metrics/fa/series?window=24h&bucket=1h");
        JsonElement[] points = s.GetProperty("series")[0].GetProperty("points").EnumerateArray().ToArray();
        JsonElement pending = Assert.Single(points, p => p.GetProperty("pendingReview").GetInt64() > 0);
        Assert.Equal(1, pending.GetProperty("pendingReview").GetInt64());
        Assert.Equal((pending.GetProperty("falseAccepts").GetInt64() + 1) / pending.GetProperty("listeningHours").GetDouble(),
            pending.GetProperty("faPerHourUpper").GetDouble(), 9);
        Assert.All(points.Where(p => p.GetProperty("pendingReview").GetInt64() == 0 && p.GetProperty("faPerHour").ValueKind == JsonValueKind.Number),
            p => Assert.Equal(p.GetProperty("faPerHour").GetDouble(), p.GetProperty("faPerHourUpper").GetDouble()));

        // Prometheus: the upper end and the pending count as their own gauges beside edgekws_fa_per_hour.
        Dictionary<string, PrometheusParser.Family> families = PrometheusParser.Parse(await Gateway.Http.GetStringAsync("/metrics"));
        double Gauge(string family, string scope, string key) =>
            families[family].Samples.Single(x => x.Labels["scope"] == scope && x.Labels["key"] == key && x.Labels["window"] == "24h").Value;
        Assert.Equal("gauge", families["edgekws_fa_per_hour_upper"].Type);
        Assert.Equal(3 / ListeningHours, Gauge("edgekws_fa_per_hour", "device", DevA), 9);
        Assert.Equal(4 / ListeningHours, Gauge("edgekws_fa_per_hour_upper", "device", DevA), 9);
        Assert.Equal(1, Gauge("edgekws_fa_pending_review", "device", DevA));
        Assert.Equal(0, Gauge("edgekws_fa_pending_review", "device", DevC));
        Assert.Equal(4 / (2 * ListeningHours), Gauge("edgekws_fa_per_hour_upper", "model", ModelOld), 9);
        Assert.Equal(4 / ListeningHours, Gauge("edgekws_fa_per_hour_upper", "cohort", "lab"), 9);
        Assert.Equal(5 / (3 * ListeningHours), Gauge("edgekws_fa_per_hour_upper", "fleet", "fleet"), 9);
    }

    [Fact]
    public async Task Fa_series_has_one_point_per_bucket_per_model()
    {
        JsonElement s = await Gateway.GetJsonAsync("/api/metrics/fa/series?window=24h&bucket=1h");
        JsonElement[] series = s.GetProperty("series").EnumerateArray().ToArray();
        Assert.Equal([ModelOld, ModelNew], series.Select(x => x.GetProperty("modelVersion").GetString()));
        JsonElement[] points = series[0].GetProperty("points").EnumerateArray().ToArray();
        Assert.InRange(points.Length, 24, 26);
        Assert.Equal(3, points.Sum(p => p.GetProperty("falseAccepts").GetInt64()));
        Assert.Equal(2 * ListeningHours, points.Sum(p => p.GetProperty("listeningHours").GetDouble()), 6);
    }

    [Fact]
    public async Task Detections_carry_their_labels_and_the_review_queue_counts_unknown_labels()
    {
        JsonElement detections = await Gateway.GetJsonAsync("/api/detections?device=dev-a&window=24h");
        Assert.Equal(6, detections.GetArrayLength());
        JsonElement newest = detections[0];
        Assert.Equal(30, newest.GetProperty("sequence").GetInt64());
        Assert.Equal("Unknown", newest.GetProperty("label").GetProperty("label").GetString());
        Assert.Equal("test:fleet-seed", newest.GetProperty("label").GetProperty("source").GetString());
        Assert.Equal(1, (await Gateway.GetJsonAsync("/api/review-queue")).GetProperty("count").GetInt64());
        Assert.Equal(13, (await Gateway.GetJsonAsync("/api/labels?limit=100")).GetArrayLength());
    }

    [Fact]
    public async Task Refuses_labels_for_unknown_detections_or_without_a_source_and_names_each()
    {
        (int status, JsonElement body) = await Gateway.SendJsonAsync(HttpMethod.Post, "/api/labels", new object[]
        {
            new { deviceId = DevA, sequence = 999, label = "FalseAccept", source = "test" },
            new { deviceId = DevA, sequence = 25, label = "FalseAccept" },
        });
        Assert.Equal(422, status);
        Assert.Equal(0, body.GetProperty("stored").GetInt32());
        string[] reasons = body.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("reason").GetString()!).Order().ToArray();
        Assert.Equal(["no detection (dev-a, 999) is stored", "source is required"], reasons);
        (status, _) = await Gateway.SendJsonAsync(HttpMethod.Post, "/api/labels", new { not = "an array" });
        Assert.Equal(400, status);
    }

    [Fact]
    public async Task Drift_flags_the_shifted_coefficient_against_the_baseline()
    {
        JsonElement d = await Gateway.GetJsonAsync($"/api/metrics/drift?window=24h&model={ModelOld}");
        JsonElement model = Assert.Single(d.GetProperty("models").EnumerateArray());
        Assert.Equal(48, model.GetProperty("sketches").GetInt32());
        JsonElement report = model.GetProperty("report");
        JsonElement[] mfcc = report.GetProperty("mfcc").EnumerateArray().ToArray();
        JsonElement worst = mfcc.MaxBy(f => f.GetProperty("psi").GetDouble());
        output.WriteLine(string.Join("\n", mfcc.Select(f => $"{f.GetProperty("feature")} PSI {f.GetProperty("psi").GetDouble():0.0000} D {f.GetProperty("ksD").GetDouble():0.0000} crit {f.GetProperty("ksCritical").GetDouble():0.0000} {f.GetProperty("level")}")));
        Assert.Equal("mfcc2", worst.GetProperty("feature").GetString());
        Assert.NotEqual("None", worst.GetProperty("level").GetString());
        Assert.NotEqual("None", report.GetProperty("level").GetString());
        Assert.True(mfcc[5].GetProperty("psi").GetDouble() < 0.05);

        JsonElement map = await Gateway.GetJsonAsync($"/api/metrics/drift/heatmap?model={ModelOld}&window=24h&bucket=1h");
        JsonElement[] c2 = map.GetProperty("psi")[2].EnumerateArray().Where(v => v.ValueKind == JsonValueKind.Number).ToArray();
        Assert.InRange(c2.Length, 23, 25);
        Assert.True(c2[^1].GetDouble() > 0.25, "the last hours are shifted by 6 on c2: PSI per hour is critical");
        Assert.True(c2[0].GetDouble() < 0.1, "the first hours are not shifted");
    }

    [Fact]
    public async Task Det_curve_comes_from_the_stored_evaluation()
    {
        JsonElement det = await Gateway.GetJsonAsync($"/api/metrics/det?model={ModelOld}");
        JsonElement[] points = det.GetProperty("points").EnumerateArray().ToArray();
        Assert.True(points.Length > 100);
        Assert.Equal(1.0, points[0].GetProperty("falseAcceptRate").GetDouble());
        Assert.Equal(10.0, points[0].GetProperty("faPerHour").GetDouble()); // 100 negatives over 10 h
        Assert.Equal(1.0, points[^1].GetProperty("falseRejectRate").GetDouble());
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Http.GetAsync($"/api/metrics/det?model={ModelNew}")).StatusCode);
    }

    [Fact]
    public async Task Models_lists_every_version_seen_with_its_baseline()
    {
        JsonElement models = await Gateway.GetJsonAsync("/api/models");
        Assert.Equal([ModelOld, ModelNew], models.EnumerateArray().Select(m => m.GetProperty("modelVersion").GetString()));
        Assert.Equal(2, models[0].GetProperty("activeDevices").GetInt64());
        Assert.Equal(12, models[0].GetProperty("detections").GetInt64());
        Assert.True(models[1].GetProperty("hasBaseline").GetBoolean());
        JsonElement baseline = await Gateway.GetJsonAsync($"/api/models/{ModelOld}/baseline");
        Assert.Equal(Wire.ConfigHash, baseline.GetProperty("featureConfigHash").GetString());
        using var bad = new StringContent("{\"schemaVersion\":1}", System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage r = await Gateway.Http.PutAsync("/api/models/kws-x/baseline", bad);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("featureConfigHash", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prometheus_metrics_parse_with_help_and_type_lines_and_escaped_labels()
    {
        using HttpResponseMessage r = await Gateway.Http.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Content.Headers.ContentType!.ToString());
        string text = await r.Content.ReadAsStringAsync();
        Dictionary<string, PrometheusParser.Family> families = PrometheusParser.Parse(text);

        Assert.Equal("counter", families["edgekws_gateway_messages_stored_total"].Type);
        Assert.Equal(3 * 54, families["edgekws_gateway_messages_stored_total"].Samples.Single().Value);
        PrometheusParser.Family lastSeen = families["edgekws_device_last_seen_timestamp_seconds"];
        Assert.Equal("gauge", lastSeen.Type);
        Assert.Equal(3, lastSeen.Samples.Count);
        // The cohort with a quote and a backslash survives the round trip through escaping.
        Assert.Equal(CohortB, lastSeen.Samples.Single(s => s.Labels["device"] == DevB).Labels["cohort"]);
        Assert.Contains("cohort=\"field \\\"north\\\"\\\\east\"", text, StringComparison.Ordinal);
        PrometheusParser.Sample fa = families["edgekws_fa_per_hour"].Samples.Single(s => s.Labels["scope"] == "device" && s.Labels["key"] == DevA && s.Labels["window"] == "24h");
        Assert.Equal(3 / ListeningHours, fa.Value, 9);
        Assert.Contains(families["edgekws_fa_per_hour"].Samples, s => s.Labels["scope"] == "cohort" && s.Labels["key"] == CohortB);
        Assert.Equal(1, families["edgekws_review_queue"].Samples.Single().Value);
    }

    [Fact]
    public async Task Prometheus_parser_rejects_a_sample_without_its_type_line()
    {
        Assert.Throws<FormatException>(() => PrometheusParser.Parse("# HELP x y\nx 1\n"));
        Assert.Throws<FormatException>(() => PrometheusParser.Parse("# HELP x y\n# TYPE x gauge\nx{a=\"b\\q\"} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusParser.Parse("# HELP x y\n# TYPE x gauge\nx 1\n# HELP z y\n# TYPE z gauge\nz 1\nx 2\n"));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Serves_the_dashboard_page_and_its_script_from_the_assembly()
    {
        string html = await Gateway.Http.GetStringAsync("/");
        Assert.Contains("<svg id=\"fa-chart\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        string js = await Gateway.Http.GetStringAsync("/dashboard/dashboard.js");
        Assert.Contains("drawHeatmap", js, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Http.GetAsync("/dashboard/secret.txt")).StatusCode);
    }
}

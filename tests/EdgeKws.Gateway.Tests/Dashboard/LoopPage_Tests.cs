using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Tests.Api;

namespace EdgeKws.Gateway.Tests.Dashboard;

/// <summary>The model loop page (<c>/dashboard/loop.html</c>) in Debian's headless Chromium against a real gateway: the policy's status
/// as configured, the jobs and rollouts tables, the production FA/hour and observed FRR series per model version, reached with a viewer's session.</summary>
public sealed class LoopPage_Tests
{
    private const string Summary = """
        document.body && document.body.dataset.ready === "1" ? JSON.stringify({
          policy: [...document.querySelectorAll("#policy tbody tr")].map(r => r.innerText),
          jobs: document.querySelectorAll("#jobs tbody tr").length,
          rollouts: document.querySelectorAll("#rollouts tbody tr").length,
          error: document.body.dataset.error || null,
        }) : null
        """;

    [Fact]
    public async Task Shows_the_policy_status_jobs_and_rollouts_to_a_viewer()
    {
        await using WebGateway gateway = await WebGateway.StartAsync([], "--Gateway:Models:AutoFineTune:MinNewLabelledClips=7", "--Gateway:Models:AutoFineTune:MinOldestAge=06:00:00");
        string token = gateway.CreateToken("loop-viewer", EdgeKws.Gateway.Security.ApiRole.Viewer);
        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(1280, 1000);
        await browser.LoginAsync(gateway.BaseAddress, token);
        await browser.SendAsync("Page.navigate", new JsonObject { ["url"] = new Uri(gateway.BaseAddress, "/dashboard/loop.html").ToString() });
        JsonElement summary = await browser.WaitForJsonAsync(Summary, TimeSpan.FromSeconds(120)); // liveness: page load + fetches under CI load
        Assert.True(summary.ValueKind == JsonValueKind.Object, "the loop page did not finish loading within 120 s: " +
            await browser.EvaluateAsync("location.href + ' | error=' + (document.body && document.body.dataset.error) + ' | ' + (document.body ? document.body.innerText.slice(0, 400) : '(no body)')"));
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("error").ValueKind);
        string[] policy = [.. summary.GetProperty("policy").EnumerateArray().Select(r => r.GetString()!)];
        Assert.Contains(policy, r => r.StartsWith("Enabled", StringComparison.Ordinal) && r.Contains("no (Gateway:Models:AutoFineTune:Enabled)", StringComparison.Ordinal));
        Assert.Contains(policy, r => r.Contains("7 decided labels, the oldest at least 6.0 h old", StringComparison.Ordinal));
        Assert.Equal((0, 0), (summary.GetProperty("jobs").GetInt32(), summary.GetProperty("rollouts").GetInt32()));
    }

    private const string SeriesSummary = """
        document.body && document.body.dataset.ready === "1" ? JSON.stringify({
          note: document.getElementById("frr-note").textContent,
          frrLines: [...document.querySelectorAll("#version-frr-chart polyline.frr-series")].map(p => ({ model: p.dataset.model, points: p.getAttribute("points").trim().split(" ").length })),
          faLines: [...document.querySelectorAll("#version-fa-chart polyline.fa-series")].map(p => p.dataset.model),
          whiskers: document.querySelectorAll("#version-frr-chart line.ci").length,
          faEmpty: document.querySelector("#version-fa-chart text.empty")?.textContent || null,
          legend: document.getElementById("version-legend").innerText,
          rows: [...document.querySelectorAll("#version-series tbody tr")].map(r => ({ model: r.dataset.model || null, cells: [...r.cells].map(c => c.innerText) })),
          error: document.body.dataset.error || null,
        }) : null
        """;

    [Fact]
    public async Task Draws_fa_per_hour_and_observed_frr_per_model_version_with_a_table_of_the_same_numbers()
    {
        await using WebGateway gateway = await WebGateway.StartAsync([]);
        (DateTimeOffset a, DateTimeOffset b) = ModelLoopSeriesApi_Tests.SeedTwoVersions(gateway.Service.Store, gateway.Clock.GetUtcNow());
        string token = gateway.CreateToken("loop-viewer", EdgeKws.Gateway.Security.ApiRole.Viewer);
        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(1280, 1400);
        await browser.LoginAsync(gateway.BaseAddress, token);
        await browser.SendAsync("Page.navigate", new JsonObject { ["url"] = new Uri(gateway.BaseAddress, "/dashboard/loop.html").ToString() });
        JsonElement s = await browser.WaitForJsonAsync(SeriesSummary, TimeSpan.FromSeconds(120)); // liveness: page load + fetches under CI load
        Assert.True(s.ValueKind == JsonValueKind.Object, "the loop page did not finish loading within 120 s: " +
            await browser.EvaluateAsync("location.href + ' | error=' + (document.body && document.body.dataset.error)"));
        Assert.Equal(JsonValueKind.Null, s.GetProperty("error").ValueKind);
        // The page says what the figure is: a lower bound, decided labels only.
        string note = s.GetProperty("note").GetString()!;
        Assert.Contains("lower bound", note, StringComparison.Ordinal);
        Assert.Contains("decided labels only", note, StringComparison.Ordinal);
        // One FRR line per model version through its one bucket with keywords, with its Wilson whisker; no listening time: no FA/hour line.
        Assert.Equal([(ModelLoopSeriesApi_Tests.Old, 1), (ModelLoopSeriesApi_Tests.New, 1)],
            s.GetProperty("frrLines").EnumerateArray().Select(l => (l.GetProperty("model").GetString(), l.GetProperty("points").GetInt32())));
        Assert.Equal(2, s.GetProperty("whiskers").GetInt32());
        Assert.Equal("no data in the window", s.GetProperty("faEmpty").GetString());
        Assert.Contains(ModelLoopSeriesApi_Tests.New, s.GetProperty("legend").GetString(), StringComparison.Ordinal);
        // The table: one row per version and bucket with data, the same numbers as the API.
        string[][] rows = [.. s.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("cells").EnumerateArray().Select(c => c.GetString()!).ToArray())];
        Assert.Equal(2, rows.Length);
        Assert.Equal([ModelLoopSeriesApi_Tests.Old, a.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), "-", "0.00", "3 / 1", "25.0 % [4.6 %, 69.9 %]", "0 / 0"], rows[0]);
        Assert.Equal([ModelLoopSeriesApi_Tests.New, b.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), "-", "0.00", "1 / 3", "75.0 % [30.1 %, 95.4 %]", "0 / 1"], rows[1]);
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Tests.Api;

namespace EdgeKws.Gateway.Tests.Dashboard;

/// <summary>The model loop page (<c>/dashboard/loop.html</c>) in Debian's headless Chromium against a real gateway: the policy's status
/// as configured, the jobs and rollouts tables, reached with a viewer's session.</summary>
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
        await Task.Delay(500);
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
}

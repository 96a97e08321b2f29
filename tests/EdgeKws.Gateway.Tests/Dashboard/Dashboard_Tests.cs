using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Tests.Api;
using Xunit.Abstractions;

namespace EdgeKws.Gateway.Tests.Dashboard;

/// <summary>The dashboard in Debian's headless Chromium against a gateway holding a fleet ingested through MQTT.</summary>
public sealed class Dashboard_Tests(SeededGatewayFixture fixture, ITestOutputHelper output) : IClassFixture<SeededGatewayFixture>
{
    private const string Summary = """
        (() => {
          const b = document.body;
          const session = document.getElementById("session");
          if (!b || b.dataset.ready !== "1" || !session || !session.dataset.name) return null;
          const cells = [...document.querySelectorAll("#drift-heatmap rect.cell")];
          return JSON.stringify({
            error: b.dataset.error || null,
            faLines: document.querySelectorAll("#fa-chart polyline.series").length,
            faPoints: document.querySelectorAll("#fa-chart circle.point").length,
            detPoints: document.querySelectorAll("#det-chart circle.point").length,
            detLine: document.querySelectorAll("#det-chart polyline.det").length,
            heatCells: cells.length,
            heatFilled: cells.filter(r => r.dataset.psi !== "").length,
            heatCritical: cells.filter(r => r.dataset.psi !== "" && Number(r.dataset.psi) >= 0.25).length,
            fleetRows: document.querySelectorAll("#fleet tbody tr").length,
            faCells: [...document.querySelectorAll("#fleet tbody td.fa")].map(c => c.textContent),
            faTile: document.getElementById("tile-fa").textContent,
            alertText: document.querySelector("#alerts tbody").textContent,
            reviewQueue: document.getElementById("review-queue").textContent,
            devices: document.getElementById("tile-devices").textContent,
            signedIn: session.dataset.name,
          });
        })()
        """;

    [Fact]
    public async Task Renders_fleet_fa_series_det_curve_drift_heatmap_alerts_and_review_queue()
    {
        WebGateway gateway = fixture.Gateway;
        gateway.Alerts.EvaluateOnce(); // the drift warning on kws-1.0.0 appears in the alert table
        string token = gateway.CreateToken("dashboard-viewer-" + Guid.NewGuid().ToString("N")[..8], EdgeKws.Gateway.Security.ApiRole.Viewer);
        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(1280, 1700);
        // Signed out, the dashboard is the login form; a viewer token logs in and the browser returns to the dashboard.
        await browser.LoginAsync(gateway.BaseAddress, token);

        JsonElement summary = await browser.WaitForJsonAsync(Summary, TimeSpan.FromSeconds(120)); // liveness: page load + fetches under CI load
        Assert.True(summary.ValueKind == JsonValueKind.Object, "the dashboard did not finish loading within 120 s (body data-ready never became 1); the page: " +
            await browser.EvaluateAsync("location.href + ' | ready=' + document.body.dataset.ready + ' | error=' + document.body.dataset.error + ' | ' + document.body.innerText.slice(0, 400)"));
        output.WriteLine(summary.ToString());
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("error").ValueKind);
        Assert.StartsWith("dashboard-viewer-", summary.GetProperty("signedIn").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, summary.GetProperty("fleetRows").GetInt32());
        Assert.Equal("3", summary.GetProperty("devices").GetString());
        Assert.Equal(2, summary.GetProperty("faLines").GetInt32());           // one line per model
        Assert.InRange(summary.GetProperty("faPoints").GetInt32(), 48, 52);   // 24 hourly buckets with listening time each
        Assert.Equal(1, summary.GetProperty("detLine").GetInt32());
        Assert.True(summary.GetProperty("detPoints").GetInt32() > 100);
        Assert.Equal(0, summary.GetProperty("heatCells").GetInt32() % 13); // 13 coefficient rows
        Assert.True(summary.GetProperty("heatCells").GetInt32() >= 13 * 24);
        Assert.InRange(summary.GetProperty("heatFilled").GetInt32(), 13 * 23, 13 * 25);
        Assert.True(summary.GetProperty("heatCritical").GetInt32() >= 5, "the shifted hours of mfcc2 are critical cells");
        Assert.Contains("drift", summary.GetProperty("alertText").GetString()!, StringComparison.Ordinal);
        Assert.Equal("1", summary.GetProperty("reviewQueue").GetString());
        // FA/hour as a range where a detection is pending review (dev-a's Unknown one: 3 / 23.52 decided, 4 / 23.52 upper; the fleet
        // 4 / 70.56 and 5 / 70.56), the decided value alone where nothing is pending.
        Assert.Equal(["0.128 – 0.170 FA/h (1 pending review)", "0.000", "0.043"],
            summary.GetProperty("faCells").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal("0.057 – 0.071 FA/h (1 pending review)", summary.GetProperty("faTile").GetString());

        JsonElement shot = await browser.SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        byte[] png = Convert.FromBase64String(shot.GetProperty("data").GetString()!);
        string path = Path.Combine(AppContext.BaseDirectory, "dashboard-screenshot.png");
        await File.WriteAllBytesAsync(path, png);
        output.WriteLine($"screenshot: {path} ({png.Length} bytes)");

        PngImage image = PngDecoder.Decode(png);
        Assert.True(image.Width >= 1200 && image.Height >= 1000, $"screenshot is {image.Width}x{image.Height}");
        double mean = 0, m2 = 0;
        long n = 0, seriesBlue = 0, heatRed = 0;
        for (int i = 0; i < image.Rgb.Length; i += 3)
        {
            int r = image.Rgb[i], g = image.Rgb[i + 1], b = image.Rgb[i + 2];
            double lum = (0.299 * r) + (0.587 * g) + (0.114 * b);
            n++;
            double d = lum - mean;
            mean += d / n;
            m2 += d * (lum - mean);
            if (Math.Abs(r - 0x1a) < 24 && Math.Abs(g - 0x73) < 24 && Math.Abs(b - 0xe8) < 24)
            {
                seriesBlue++; // the first series colour: FA/h line of kws-1.0.0 and the DET curve
            }
            if (r > 240 && g < 110 && b < 80)
            {
                heatRed++; // critical heatmap cells
            }
        }
        double sd = Math.Sqrt(m2 / n);
        output.WriteLine($"luminance mean {mean:0.0}, sd {sd:0.0}; series-blue pixels {seriesBlue}; critical-red pixels {heatRed}");
        Assert.True(sd > 15, $"the screenshot looks blank (luminance sd {sd:0.0})");
        Assert.True(seriesBlue > 500, $"chart lines not visible ({seriesBlue} series-blue pixels)");
        Assert.True(heatRed > 500, $"critical heatmap cells not visible ({heatRed} red pixels)");
    }
}

using System.Net;
using System.Text.Json;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Storage;

namespace EdgeKws.Gateway.Tests.Api;

/// <summary><c>GET /api/model-loop/versions/series</c> on a real gateway (SQLite store): FA/hour and observed FRR per model version per bucket.</summary>
public sealed class ModelLoopSeriesApi_Tests
{
    internal const string Old = "kws-1.0.0", New = "kws-1.1.0";

    /// <summary>Two model versions in the two hours before the current one: the old one 3 keywords caught and 1 missed (2 h ago), the new
    /// one 1 caught, 3 missed and 1 near miss pending review (1 h ago). Returns the two bucket starts.</summary>
    internal static (DateTimeOffset A, DateTimeOffset B) SeedTwoVersions(IGatewayStore store, DateTimeOffset now)
    {
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        DateTimeOffset a = hour.AddHours(-2), b = hour.AddHours(-1);
        var seed = new RecallSeed("dev-loop");
        for (int i = 0; i < 3; i++) seed.Trigger(Old, a.AddMinutes(5 + i), DetectionLabelKind.TrueAccept);
        seed.NearMiss(Old, a.AddMinutes(20), DetectionLabelKind.TrueAccept);
        seed.Trigger(New, b.AddMinutes(5), DetectionLabelKind.TrueAccept);
        for (int i = 0; i < 3; i++) seed.NearMiss(New, b.AddMinutes(10 + i), DetectionLabelKind.TrueAccept);
        seed.NearMiss(New, b.AddMinutes(30), DetectionLabelKind.Unknown);
        seed.Flush(store);
        return (a, b);
    }

    [Fact]
    public async Task Serves_fa_per_hour_and_observed_frr_per_model_version_and_bucket_to_viewers()
    {
        await using WebGateway g = await WebGateway.StartAsync([]);
        (DateTimeOffset a, DateTimeOffset b) = SeedTwoVersions(g.Service.Store, g.Clock.GetUtcNow());
        using HttpClient viewer = g.ClientFor("series-viewer", ApiRole.Viewer);
        using JsonDocument doc = JsonDocument.Parse(await viewer.GetStringAsync(new Uri("/api/model-loop/versions/series?window=24h&bucket=1h", UriKind.Relative)));
        JsonElement root = doc.RootElement;
        Assert.Equal(("24h", "1h", ModelVersionSeriesReader.FrrNote), (root.GetProperty("window").GetString(), root.GetProperty("bucket").GetString(),
            root.GetProperty("frrNote").GetString()));
        Assert.Contains("lower bound", ModelVersionSeriesReader.FrrNote, StringComparison.Ordinal);
        JsonElement[] versions = [.. root.GetProperty("versions").EnumerateArray()];
        Assert.Equal([Old, New], versions.Select(v => v.GetProperty("modelVersion").GetString()));
        Assert.All(versions, v => Assert.InRange(v.GetProperty("points").GetArrayLength(), 25, 26)); // every bucket of the 24 h window

        JsonElement oldA = Point(versions[0], a).GetProperty("frr");
        Assert.Equal((3, 1, 0, 0), (oldA.GetProperty("keywordsCaught").GetInt32(), oldA.GetProperty("keywordsMissed").GetInt32(),
            oldA.GetProperty("pendingTriggers").GetInt32(), oldA.GetProperty("pendingNearMisses").GetInt32()));
        Assert.Equal(0.25, oldA.GetProperty("observedFrr").GetDouble(), 12);
        Assert.Equal(0.04558726029536886, oldA.GetProperty("low").GetDouble(), 9);
        Assert.Equal(0.6993581599030918, oldA.GetProperty("high").GetDouble(), 9);
        JsonElement newB = Point(versions[1], b);
        Assert.Equal((0.75, 1), (newB.GetProperty("frr").GetProperty("observedFrr").GetDouble(), newB.GetProperty("frr").GetProperty("pendingNearMisses").GetInt32()));
        // The FA/hour half is the /api/metrics/fa/series point: no heartbeats here, so no listening time and no rate.
        Assert.Equal(JsonValueKind.Null, newB.GetProperty("fa").GetProperty("faPerHour").ValueKind);
        // The old version had nothing in hour B: counts 0, no FRR.
        Assert.Equal(JsonValueKind.Null, Point(versions[0], b).GetProperty("frr").GetProperty("observedFrr").ValueKind);

        Assert.Equal(HttpStatusCode.BadRequest, (await viewer.GetAsync(new Uri("/api/model-loop/versions/series?bucket=2d", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await viewer.GetAsync(new Uri("/api/model-loop/versions/series?window=2h", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await g.Anonymous.GetAsync(new Uri("/api/model-loop/versions/series", UriKind.Relative))).StatusCode);
    }

    private static JsonElement Point(JsonElement version, DateTimeOffset bucket) =>
        version.GetProperty("points").EnumerateArray().Single(p => p.GetProperty("bucketStartUtc").GetDateTimeOffset() == bucket);
}

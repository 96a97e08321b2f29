using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// The fleet's figures as JSON under <c>/api/metrics</c> (viewers): FA/hour by scope and as a series, the DET curve of a stored evaluation,
/// drift (PSI, KS) and its heatmap, ingest counts, and device-vs-gateway feature skew. The same figures for Prometheus are <see cref="PrometheusApi"/>.
/// </summary>
public static class MetricsApi
{
    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/metrics/fa", Fa).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/fa/series", FaSeriesEndpoint).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/det", Det).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/drift", Drift).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/drift/heatmap", Heatmap).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/ingest", Ingest).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/skew", Skew).Requires(ApiRole.Viewer);
    }

    private static IResult Fa(GatewayService g, TimeProvider clock, string? window, string? by)
    {
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why))
        {
            return BadRequest(why);
        }
        if (!Enum.TryParse(by ?? "device", ignoreCase: true, out FaScope scope) || !Enum.IsDefined(scope))
        {
            return BadRequest($"by '{by}' is not device, model, cohort or fleet");
        }
        return Results.Json(new { window = window ?? "24h", by = scope, groups = new FleetMonitor(g.Store, clock).FalseAcceptRates(length, scope) });
    }

    private static IResult FaSeriesEndpoint(GatewayService g, TimeProvider clock, string? window, string? bucket)
    {
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why) || !TryBucket(bucket ?? "1h", length, out TimeSpan b, out why))
        {
            return BadRequest(why);
        }
        return Results.Json(new { window = window ?? "24h", bucket = bucket ?? "1h", series = new FleetMonitor(g.Store, clock).FalseAcceptSeries(length, b) });
    }

    private static IResult Det(GatewayService g, TimeProvider clock, string? model)
    {
        var fleet = new FleetMonitor(g.Store, clock);
        model ??= g.Store.ReadEvaluations(null, 1).FirstOrDefault()?.ModelVersion;
        if (model is null)
        {
            return NotFound("no evaluation is stored (POST /api/evaluations)");
        }
        if (!fleet.TryDet(model, out EvaluationRecord? e, out DetPoint[] points, out string why))
        {
            return NotFound(why);
        }
        return Results.Json(new
        {
            modelVersion = model,
            evaluation = new { e!.Id, e.Name, e.CreatedUtc, e.NegativeHours, trials = e.Scores.Length, positives = e.Positives.Count(p => p) },
            points = points.Select(p => new
            {
                p.Threshold,
                falseAcceptRate = NullIfNaN(p.FalseAcceptRate),
                falseRejectRate = NullIfNaN(p.FalseRejectRate),
                p.FalseAccepts,
                p.FalseRejects,
                faPerHour = NullIfNaN(p.FaPerHour),
            }),
        });
    }

    private static IResult Drift(GatewayService g, TimeProvider clock, string? window, string? model)
    {
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why))
        {
            return BadRequest(why);
        }
        return Results.Json(new
        {
            window = window ?? "24h",
            thresholds = new { psiWarning = DriftStatistics.PsiWarning, psiCritical = DriftStatistics.PsiCritical, emptyBinProportion = DriftStatistics.DefaultEmptyBinProportion, ksCoefficient = DriftStatistics.KsCoefficientAlpha05 },
            models = new FleetMonitor(g.Store, clock).Drift(length, model),
        });
    }

    private static IResult Heatmap(GatewayService g, TimeProvider clock, string? model, string? window, string? bucket)
    {
        if (string.IsNullOrEmpty(model))
        {
            return BadRequest("model is required");
        }
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why) || !TryBucket(bucket ?? "1h", length, out TimeSpan b, out why))
        {
            return BadRequest(why);
        }
        DriftHeatmap map = new FleetMonitor(g.Store, clock).Heatmap(model, length, b);
        return Results.Json(new
        {
            map.ModelVersion,
            map.BucketStartsUtc,
            coefficients = Enumerable.Range(0, map.Psi.Length).Select(c => "mfcc" + c.ToString(CultureInfo.InvariantCulture)),
            psi = map.Psi.Select(row => row.Select(NullIfNaN)),
            map.Reason,
        });
    }

    private static IResult Ingest(GatewayService g, TimeProvider clock)
    {
        DateTimeOffset now = clock.GetUtcNow();
        IngestCounts last5 = g.Store.CountIngest(now - TimeSpan.FromMinutes(5), now);
        IngestCounts lastHour = g.Store.CountIngest(now - TimeSpan.FromHours(1), now);
        return Results.Json(new { counters = g.Metrics.Snapshot(), last5Minutes = last5, lastHour, store = g.Store.Count() });
    }

    private static IResult Skew(GatewayService g, MonitoringOptions options, string? device, int? limit)
    {
        if (!TryLimit(limit, 200, out int l, out IResult? bad))
        {
            return bad!;
        }
        IReadOnlyList<SkewResult> results = g.Store.ReadSkewResults(device, l);
        return Results.Json(new
        {
            frontEndConfigHash = EdgeKws.Shared.Features.MfccConfig.Default.FeatureConfigHash,
            relativeLimit = options.SkewRelativeLimit,
            devices = results.GroupBy(r => r.DeviceId, StringComparer.Ordinal).OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => new
            {
                deviceId = x.Key,
                clips = x.Count(),
                compared = x.Count(r => r.Status == SkewStatus.Compared),
                unknownFrontEnd = x.Count(r => r.Status == SkewStatus.UnknownFrontEnd),
                incomparable = x.Count(r => r.Status == SkewStatus.Incomparable),
                overLimit = x.Count(r => r.Status == SkewStatus.Compared && r.MaxRelativeDifference > options.SkewRelativeLimit),
                maxAbsDifference = x.Max(r => r.MaxAbsDifference),
                maxRelativeDifference = x.Max(r => r.MaxRelativeDifference),
            }),
            results,
        });
    }

    private static double? NullIfNaN(double v) => double.IsFinite(v) ? v : null;
}

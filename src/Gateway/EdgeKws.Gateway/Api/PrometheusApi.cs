using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// <c>GET /metrics</c> (viewers): the Prometheus text exposition of the ingest counters, device last-seen times, FA/hour ranges per scope
/// and window, active alerts, the review queue, retention, tainted models and feature skew. Outside <c>/api</c>, where scrapers expect it.
/// </summary>
public static class PrometheusApi
{
    /// <summary>Maps the route onto <paramref name="app"/>'s root.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/metrics", Metrics).Requires(ApiRole.Viewer);
    }

    private static async Task<IResult> Metrics(GatewayService g, TimeProvider clock, RetentionService retention, MonitoringOptions monitoring, CancellationToken ct)
    {
        var fleet = new FleetMonitor(g.Store, clock);
        var p = new MetricsScrape();
        GatewayMetricsSnapshot s = g.Metrics.Snapshot();
        (string Name, string Help, long Value)[] counters =
        [
            ("edgekws_gateway_messages_received_total", "Publishes handed to the ingest pipeline.", s.Received),
            ("edgekws_gateway_messages_stored_total", "Messages stored for the first time.", s.Stored),
            ("edgekws_gateway_messages_duplicate_total", "Redeliveries recognised and ignored.", s.Duplicates),
            ("edgekws_gateway_messages_quarantined_total", "Messages written to quarantine.", s.Quarantined),
            ("edgekws_gateway_foreign_topic_refused_total", "Publishes outside the publisher's own topics.", s.ForeignTopicRefused),
            ("edgekws_gateway_messages_failed_total", "Messages that could not be committed (the device re-sends).", s.Failed),
            ("edgekws_gateway_auth_failures_total", "Connections refused for bad credentials.", s.AuthFailures),
            ("edgekws_gateway_subscribe_refused_total", "Subscriptions refused by the topic ACL.", s.SubscribeRefused),
            ("edgekws_gateway_backpressure_waits_total", "Receives that waited for the writer.", s.BackpressureWaits),
            ("edgekws_gateway_batches_total", "Committed ingest transactions.", s.Batches),
        ];
        foreach ((string name, string help, long value) in counters)
        {
            p.Counter(name, help, value);
        }
        p.Gauge("edgekws_gateway_queue_depth", "Messages waiting for the ingest writer.", s.QueueDepth);

        IReadOnlyList<DeviceRecord> devices = g.Store.ReadDevices();
        Prometheus.Gauge lastSeen = p.Gauge("edgekws_device_last_seen_timestamp_seconds", "Unix time of the device's latest stored message.", "device", "cohort");
        foreach (DeviceRecord d in devices)
        {
            if (d.LastSeenUtc is { } last)
            {
                lastSeen.WithLabels(d.DeviceId, d.Cohort ?? FleetMonitor.NoCohort).Set(last.ToUnixTimeMilliseconds() / 1000.0);
            }
        }
        var groups = new List<(FaGroup G, string Window)>();
        foreach ((string window, TimeSpan length) in MetricsWindows.All)
        {
            foreach (FaScope scope in new[] { FaScope.Device, FaScope.Model, FaScope.Cohort, FaScope.Fleet })
            {
                groups.AddRange(fleet.FalseAcceptRates(length, scope).Select(group => (group, window)));
            }
        }
        // The FA/hour range: the decided figure (as before) and, beside it, the upper end with every detection pending review
        // counted as a false accept, and the pending count itself.
        (string Name, string Help, Func<FaGroup, double?> Value)[] faFamilies =
        [
            ("edgekws_fa_per_hour", "False accepts per listening hour (detections labelled FalseAccept / heartbeat listening time): the decided lower end of the range.", x => x.FaPerHour),
            ("edgekws_fa_per_hour_upper", "Upper end of the FA/hour range: (labelled false accepts + detections pending review) / listening hours.", x => x.FaPerHourUpper),
            ("edgekws_fa_pending_review", "Detections in the window still waiting for a decision (labelled Unknown, or unlabelled with a stored clip).", x => x.PendingReview),
            ("edgekws_listening_hours", "Detector listening hours in the window (the FA/hour denominator).", x => x.ListeningHours),
        ];
        foreach ((string name, string help, Func<FaGroup, double?> value) in faFamilies)
        {
            Prometheus.Gauge gauge = p.Gauge(name, help, "scope", "key", "window");
            foreach ((FaGroup group, string window) in groups)
            {
                if (value(group) is { } v)
                {
                    gauge.WithLabels(group.Scope.ToString().ToLowerInvariant(), group.Key, window).Set(v);
                }
            }
        }
        IReadOnlyList<AlertRecord> alerts = g.Store.ReadAlerts(activeOnly: true, MaxLimit);
        Prometheus.Gauge active = p.Gauge("edgekws_alerts_active", "Active alerts by severity.", "severity");
        foreach (AlertSeverity sev in Enum.GetValues<AlertSeverity>())
        {
            active.WithLabels(sev.ToString().ToLowerInvariant()).Set(alerts.Count(a => a.Severity == sev));
        }
        p.Gauge("edgekws_review_queue", "Detections labelled Unknown, waiting for review.", g.Store.CountReviewQueue());
        p.Counter("edgekws_retention_raw_audio_deleted_total", "Raw audio clips deleted by the retention job since start.", retention.DeletedTotal);
        p.Gauge("edgekws_models_tainted", "Models trained on data of a device that was later erased.",
            g.Store.ReadModelTaints().Select(t => t.ModelVersion).Distinct(StringComparer.Ordinal).Count());
        DateTimeOffset skewSince = clock.GetUtcNow() - monitoring.SkewWindow;
        var skew = g.Store.ReadSkewResults(null, MaxLimit).Where(r => r.Status == SkewStatus.Compared && r.ComputedUtc >= skewSince)
            .GroupBy(r => r.DeviceId, StringComparer.Ordinal).OrderBy(x => x.Key, StringComparer.Ordinal).ToList();
        Prometheus.Gauge skewRelative = p.Gauge("edgekws_feature_skew_max_relative", "Largest per-frame relative difference between a device's features and the gateway's recomputation from raw audio (skew window).", "device");
        Prometheus.Gauge skewAbs = p.Gauge("edgekws_feature_skew_max_abs", "Largest absolute difference between a device's features and the gateway's recomputation (skew window).", "device");
        foreach (IGrouping<string, SkewResult> d in skew)
        {
            skewRelative.WithLabels(d.Key).Set(d.Max(r => r.MaxRelativeDifference));
            skewAbs.WithLabels(d.Key).Set(d.Max(r => r.MaxAbsDifference));
        }
        return Results.Bytes(await p.ToUtf8Async(ct).ConfigureAwait(false), MetricsScrape.ContentType);
    }
}

using System.Globalization;
using System.Reflection;
using System.Security.Claims;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeKws.Gateway.Api;

/// <summary>A label as posted.</summary>
/// <param name="DeviceId">Detection's device.</param>
/// <param name="Sequence">Detection's sequence.</param>
/// <param name="Label">TrueAccept, FalseAccept or Unknown.</param>
/// <param name="Source">What decided (a tool, an import); <c>review:&lt;name&gt;</c> only with that name's own token.</param>
/// <param name="LabeledUtc">When; defaults to the time of the request.</param>
public sealed record LabelInput(string? DeviceId, long Sequence, DetectionLabelKind? Label, string? Source, DateTimeOffset? LabeledUtc);

/// <summary>A cohort assignment.</summary>
/// <param name="Cohort">The cohort, or null to clear.</param>
public sealed record CohortInput(string? Cohort);

/// <summary>One trial of a posted evaluation.</summary>
/// <param name="Score">Score.</param>
/// <param name="Positive">Keyword present.</param>
public sealed record TrialInput(float Score, bool Positive);

/// <summary>An offline evaluation as posted.</summary>
/// <param name="ModelVersion">Model.</param>
/// <param name="Name">Evaluation set.</param>
/// <param name="NegativeHours">Hours of negative audio (0 if unknown).</param>
/// <param name="Trials">The scored trials.</param>
public sealed record EvaluationInput(string? ModelVersion, string? Name, double NegativeHours, TrialInput[]? Trials);

/// <summary>The HTTP endpoints (JSON API, Prometheus <c>/metrics</c>, <c>/healthz</c>, dashboard). See docs/gateway.md for the list.</summary>
public static class GatewayApi
{
    private const int MaxLimit = 10_000;
    private const int MaxLabelsPerPost = 10_000;
    private const int MaxTrials = 1_000_000;

    /// <summary>Longest evaluation set name.</summary>
    public const int MaxEvaluationNameLength = 128;

    /// <summary>Largest <c>negativeHours</c> of a posted evaluation (a century of audio; more is a unit mistake).</summary>
    public const double MaxNegativeHours = 1_000_000;

    /// <summary>Maps every endpoint onto <paramref name="app"/>, each with the role it needs (docs/gateway.md, "Authentication and roles").</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/healthz", Healthz).Open();
        app.MapGet("/metrics", Metrics).Requires(ApiRole.Viewer);

        RouteGroupBuilder api = app.MapGroup("/api");
        api.AddEndpointFilterFactory(AuditLog.ArgumentsFilter);
        api.MapGet("/devices", (GatewayService g, TimeProvider clock) => Results.Json(g.Store.ReadDevices().Select(d => DeviceView(d, clock.GetUtcNow()))))
            .Requires(ApiRole.Viewer);
        api.MapGet("/devices/{id}", DeviceDetail).Requires(ApiRole.Viewer);
        api.MapPut("/devices/{id}/cohort", SetCohort).Requires(ApiRole.Operator);
        api.MapDelete("/devices/{id}/data", EraseDevice).Requires(ApiRole.Operator);
        DeviceLossesApi.Map(api);
        NearMissApi.Map(api);
        api.MapGet("/detections", Detections).Requires(ApiRole.Viewer);
        api.MapGet("/labels", (GatewayService g, string? device, int? limit) =>
            TryLimit(limit, 1000, out int l, out IResult? bad) ? Results.Json(g.Store.ReadLabels(device, l)) : bad!).Requires(ApiRole.Viewer);
        api.MapPost("/labels", PostLabels).Requires(ApiRole.Reviewer);
        api.MapGet("/review-queue", (GatewayService g) => Results.Json(new { count = g.Store.CountReviewQueue() })).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/fa", Fa).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/fa/series", FaSeriesEndpoint).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/det", Det).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/drift", Drift).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/drift/heatmap", Heatmap).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/ingest", Ingest).Requires(ApiRole.Viewer);
        api.MapGet("/metrics/skew", Skew).Requires(ApiRole.Viewer);
        api.MapGet("/models", (GatewayService g) => Results.Json(g.Store.ReadModels())).Requires(ApiRole.Viewer);
        api.MapGet("/models/taints", (GatewayService g) => Results.Json(g.Store.ReadModelTaints())).Requires(ApiRole.Viewer);
        api.MapPut("/models/{version}/baseline", PutBaseline).Requires(ApiRole.Operator);
        api.MapGet("/models/{version}/baseline", (GatewayService g, string version) =>
            g.Store.TryGetModelBaseline(version, out DriftSketch? b) ? Results.Bytes(WireJson.Serialize(b!), "application/json") : NotFound($"model '{version}' has no baseline"))
            .Requires(ApiRole.Viewer);
        api.MapPost("/evaluations", PostEvaluation).Requires(ApiRole.Operator);
        api.MapGet("/evaluations", (GatewayService g, string? model, int? limit) =>
            TryLimit(limit, 20, out int l, out IResult? bad)
                ? Results.Json(g.Store.ReadEvaluations(model, l).Select(e => new { e.Id, e.ModelVersion, e.Name, e.CreatedUtc, e.NegativeHours, trials = e.Scores.Length, positives = e.Positives.Count(p => p) }))
                : bad!).Requires(ApiRole.Viewer);
        api.MapGet("/alerts", (GatewayService g, bool? active, int? limit) =>
            TryLimit(limit, 200, out int l, out IResult? bad) ? Results.Json(g.Store.ReadAlerts(active ?? true, l)) : bad!).Requires(ApiRole.Viewer);
        // Quarantined payloads are raw device bytes (possibly audio): operators only.
        api.MapGet("/quarantine", Quarantine).Requires(ApiRole.Operator);
        ReviewApi.Map(api);
        ModelApi.Map(api);
        TokenApi.Map(api);
        AuditLog.Map(api);
        ApiAuth.Map(app, api);

        app.MapGet("/", () => Asset("index.html")).Requires(ApiRole.Viewer);
        app.MapGet("/dashboard/{file}", (string file) => Asset(file)).Requires(ApiRole.Viewer);
    }

    /// <summary>
    /// 200 with the store's counts, or 503 when the store cannot answer, whatever the store and whatever the failure (SQLite
    /// error, PostgreSQL down or unreachable, store not open yet): a health check that throws would answer 500, which a load
    /// balancer reads as "broken gateway" rather than "dependency down".
    /// </summary>
    private static IResult Healthz(GatewayService g)
    {
        try
        {
            StoreCounts c = g.Store.Count();
            return Results.Json(new { status = "ok", messages = c.Messages, quarantined = c.Quarantined, devices = c.Devices });
        }
#pragma warning disable CA1031 // Every store failure is an outage here; cancellation is not (the request is gone).
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            return Results.Json(new { status = "unavailable", reason = ex.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static IResult EraseDevice(GatewayService g, TimeProvider clock, string id, bool? keepCredential)
    {
        if (!g.Store.ReadDevices().Any(d => d.DeviceId == id))
        {
            return NotFound($"device '{id}' is unknown");
        }
        ErasureCounts counts = g.Store.EraseDevice(id, keepCredential ?? false, clock.GetUtcNow());
        return Results.Json(new { deviceId = id, erased = counts });
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

    private static object DeviceView(DeviceRecord d, DateTimeOffset now) => new
    {
        d.DeviceId,
        d.HasCredential,
        d.FirstSeenUtc,
        d.LastSeenUtc,
        d.ModelVersion,
        d.Status,
        d.Cohort,
        silentSeconds = d.LastSeenUtc is { } last ? Math.Max(0, (now - last).TotalSeconds) : (double?)null,
    };

    private static IResult DeviceDetail(GatewayService g, TimeProvider clock, string id)
    {
        DeviceRecord? d = g.Store.ReadDevices().FirstOrDefault(x => x.DeviceId == id);
        if (d is null)
        {
            return NotFound($"device '{id}' is unknown");
        }
        var fleet = new FleetMonitor(g.Store, clock);
        var fa = MetricsWindows.All.ToDictionary(w => w.Name, w => fleet.FalseAcceptRates(w.Length, FaScope.Device).FirstOrDefault(x => x.Key == id));
        return Results.Json(new { device = DeviceView(d, clock.GetUtcNow()), fa });
    }

    private static IResult SetCohort(GatewayService g, string id, CohortInput? body)
    {
        if (body is null)
        {
            return BadRequest("body must be {\"cohort\": \"name\"} or {\"cohort\": null}");
        }
        try
        {
            return g.Store.SetDeviceCohort(id, body.Cohort) ? Results.Json(new { deviceId = id, cohort = body.Cohort }) : NotFound($"device '{id}' is unknown");
        }
        catch (ArgumentException ex)
        {
            return BadRequest(ex.Message);
        }
    }

    private static IResult Detections(GatewayService g, TimeProvider clock, string? device, string? model, string? window, int? limit)
    {
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why))
        {
            return BadRequest(why);
        }
        if (!TryLimit(limit, 100, out int l, out IResult? bad))
        {
            return bad!;
        }
        DateTimeOffset now = clock.GetUtcNow();
        return Results.Json(g.Store.ReadDetections(new DetectionQuery(now - length, now, device, model, l)));
    }

    private static IResult PostLabels(GatewayService g, TimeProvider clock, ClaimsPrincipal user, LabelInput[]? body)
    {
        if (body is null || body.Length == 0 || body.Length > MaxLabelsPerPost)
        {
            return BadRequest($"body must be a JSON array of 1..{MaxLabelsPerPost} labels {{deviceId, sequence, label, source}}");
        }
        DateTimeOffset now = clock.GetUtcNow();
        string reviewSource = LabelSources.Review(ApiAuth.NameOf(user));
        // Values out of range are refused as a whole (400 naming the item and field); missing fields and unknown detections are
        // refused per label below, so a batch stores what it can.
        for (int i = 0; i < body.Length; i++)
        {
            LabelInput x = body[i];
            if (x.DeviceId is { Length: > 128 })
            {
                return BadRequest($"[{i}].deviceId is longer than 128 characters");
            }
            if (x.Source is { Length: > MonitoringArgumentRules.MaxLabelSourceLength })
            {
                return BadRequest($"[{i}].source must be at most {MonitoringArgumentRules.MaxLabelSourceLength} characters");
            }
            if (x.LabeledUtc is { } at && (at < WireLimits.EarliestDeviceTimeUtc || at > now + WireLimits.MaxFutureSkew))
            {
                return BadRequest($"[{i}].labeledUtc {at:O} is outside {WireLimits.EarliestDeviceTimeUtc:yyyy-MM-dd} .. now + {WireLimits.MaxFutureSkew.TotalHours:0} h");
            }
            // "review:<name>" says a person decided: only that person's own token may write it (the review API does it for them).
            if (x.Source is { } src && src.StartsWith("review:", StringComparison.Ordinal) && src != reviewSource)
            {
                return BadRequest($"[{i}].source '{src}' names a reviewer: a review label carries the caller's own token name ('{reviewSource}')");
            }
        }
        var rejected = new List<object>();
        var labels = new List<DetectionLabel>();
        var index = new List<int>();
        for (int i = 0; i < body.Length; i++)
        {
            LabelInput x = body[i];
            string? problem = string.IsNullOrEmpty(x.DeviceId) ? "deviceId is required"
                : x.Sequence <= 0 ? "sequence must be positive"
                : x.Label is null ? "label is required (TrueAccept, FalseAccept or Unknown)"
                : string.IsNullOrWhiteSpace(x.Source) ? "source is required" : null;
            if (problem is not null)
            {
                rejected.Add(new { index = i, reason = problem });
                continue;
            }
            labels.Add(new DetectionLabel(x.DeviceId!, x.Sequence, x.Label!.Value, x.Source!, x.LabeledUtc ?? now));
            index.Add(i);
        }
        IReadOnlyList<string?> results = labels.Count > 0 ? g.Store.WriteLabels(labels) : [];
        int stored = 0;
        for (int i = 0; i < results.Count; i++)
        {
            if (results[i] is null)
            {
                stored++;
            }
            else
            {
                rejected.Add(new { index = index[i], reason = results[i] });
            }
        }
        return Results.Json(new { stored, rejected }, statusCode: stored == 0 ? StatusCodes.Status422UnprocessableEntity : StatusCodes.Status200OK);
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

    private static async Task<IResult> PutBaseline(GatewayService g, TimeProvider clock, string version, HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        if (!WireJson.TryDeserialize(buffer.ToArray(), WireJsonContext.Default.DriftSketch, out DriftSketch? sketch, out string reason))
        {
            return BadRequest(reason);
        }
        if (sketch.ModelVersion is not null && sketch.ModelVersion != version)
        {
            return BadRequest($"the sketch names model '{sketch.ModelVersion}', the URL '{version}'");
        }
        try
        {
            g.Store.SetModelBaseline(version, sketch, clock.GetUtcNow());
        }
        catch (ArgumentException ex)
        {
            return BadRequest(ex.Message);
        }
        return Results.Json(new { modelVersion = version, frames = sketch.MfccFrameCount(), sketch.FeatureConfigHash });
    }

    private static IResult PostEvaluation(GatewayService g, TimeProvider clock, EvaluationInput? body)
    {
        if (body is null)
        {
            return BadRequest($"body must be {{modelVersion, name, negativeHours, trials: [{{score, positive}}] (1..{MaxTrials})}}");
        }
        string? problem = string.IsNullOrEmpty(body.ModelVersion) || body.ModelVersion.Length > WireLimits.MaxModelVersionLength
                ? $"modelVersion must be 1..{WireLimits.MaxModelVersionLength} characters"
            : string.IsNullOrEmpty(body.Name) || body.Name.Length > MaxEvaluationNameLength || body.Name.Any(char.IsControl)
                ? $"name must be 1..{MaxEvaluationNameLength} characters without control characters"
            : !(body.NegativeHours is >= 0 and <= MaxNegativeHours) ? $"negativeHours must be in 0..{MaxNegativeHours:0}"
            : body.Trials is null || body.Trials.Length == 0 || body.Trials.Length > MaxTrials ? $"trials must hold 1..{MaxTrials} {{score, positive}}"
            : body.Trials.Any(t => !float.IsFinite(t.Score)) ? "trials: every score must be a finite number"
            : null;
        if (problem is not null)
        {
            return BadRequest(problem);
        }
        var trials = body.Trials!.Select(t => new ScoredTrial(t.Score, t.Positive)).ToArray();
        if (!DetCurve.TryCompute(trials, body.NegativeHours, out _, out string why))
        {
            return BadRequest(why);
        }
        long id = g.Store.AddEvaluation(new EvaluationRecord(0, body.ModelVersion!, body.Name!, clock.GetUtcNow(), body.NegativeHours,
            body.Trials!.Select(t => t.Score).ToArray(), body.Trials!.Select(t => t.Positive).ToArray()));
        return Results.Json(new { id }, statusCode: StatusCodes.Status201Created);
    }

    private static IResult Quarantine(GatewayService g, long? after, int? limit)
    {
        if (!TryLimit(limit, 100, out int l, out IResult? bad))
        {
            return bad!;
        }
        return Results.Json(g.Store.ReadQuarantine(after ?? 0, l).Select(q => new
        {
            q.Id,
            q.ReceivedUtc,
            q.ClientId,
            q.Topic,
            q.Rejection,
            q.Reason,
            q.PayloadBytes,
            payloadBase64 = Convert.ToBase64String(q.Payload),
        }));
    }

    private static IResult Asset(string file)
    {
        string? type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => null,
        };
        Stream? s = type is null ? null : typeof(GatewayApi).Assembly.GetManifestResourceStream("dashboard/" + file);
        return s is null ? NotFound($"no dashboard file '{file}'") : Results.Stream(s, type);
    }

    private static bool TryLimit(int? limit, int fallback, out int value, out IResult? bad)
    {
        value = limit ?? fallback;
        bad = value is < 1 or > MaxLimit ? BadRequest($"limit must be in 1..{MaxLimit}") : null;
        return bad is null;
    }

    /// <summary>
    /// Parses a bucket ("15m", "1h", "1d"). The count is checked against the window in whole minutes before any
    /// <see cref="TimeSpan"/> is built, so no value (e.g. 2147483647d, past TimeSpan's range) can overflow into a 500.
    /// </summary>
    internal static bool TryBucket(string text, TimeSpan window, out TimeSpan bucket, out string reason)
    {
        bucket = default;
        reason = $"bucket '{(text.Length > 32 ? text[..32] + "..." : text)}' must be a number followed by m, h or d (e.g. 15m, 1h, 1d), " +
            "at most the window, with at most 1000 buckets per window";
        long unitMinutes = text.Length < 2 ? 0 : text[^1] switch { 'm' => 1, 'h' => 60, 'd' => 1440, _ => 0 };
        if (unitMinutes == 0 || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
        {
            return false;
        }
        long minutes = n * unitMinutes; // at most 2^31 x 1440: fits a long
        long windowMinutes = (long)Math.Ceiling(window.TotalMinutes);
        if (minutes > windowMinutes || windowMinutes / minutes > 1000)
        {
            return false;
        }
        bucket = TimeSpan.FromMinutes(minutes);
        return true;
    }

    private static double? NullIfNaN(double v) => double.IsFinite(v) ? v : null;

    private static IResult BadRequest(string error) => Results.Json(new { error }, statusCode: StatusCodes.Status400BadRequest);

    private static IResult NotFound(string error) => Results.Json(new { error }, statusCode: StatusCodes.Status404NotFound);
}

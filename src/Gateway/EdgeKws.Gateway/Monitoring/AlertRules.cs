using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// The alert rules, evaluated at one instant. Each returns the conditions that hold now; the store turns them into
/// alerts (opened once, updated while they hold, resolved when they stop). Times: device silence by the gateway's
/// receive time; FA/hour and drift by device time; error rate and throughput by receive time.
/// </summary>
public sealed class AlertRules(IGatewayStore store, FleetMonitor monitor, MonitoringOptions options)
{
    /// <summary>Every rule's current conditions.</summary>
    public IReadOnlyList<AlertCondition> Evaluate()
    {
        DateTimeOffset now = monitor.Now;
        var firing = new List<AlertCondition>();
        NoData(now, firing);
        FaBudget(firing);
        Drift(firing);
        IngestRates(now, firing);
        Skew(now, firing);
        return firing;
    }

    private void NoData(DateTimeOffset now, List<AlertCondition> firing)
    {
        DateTimeOffset? fleetLast = null;
        foreach (DeviceRecord d in store.ReadDevices())
        {
            if (d.LastSeenUtc is not { } last)
            {
                continue; // provisioned, never connected: not yet deployed, nothing to miss
            }
            fleetLast = fleetLast is { } f && f >= last ? f : last;
            if (now - last >= options.NoDataAfter)
            {
                firing.Add(new AlertCondition($"no-data/device/{d.DeviceId}", "no-data", AlertSeverity.Critical, "device:" + d.DeviceId,
                    $"device {d.DeviceId} has sent nothing for {Minutes(now - last)} (limit {Minutes(options.NoDataAfter)}); last message {last:O}",
                    "/api/devices/" + Uri.EscapeDataString(d.DeviceId), last));
            }
        }
        if (fleetLast is { } fl && now - fl >= options.NoDataAfter)
        {
            firing.Add(new AlertCondition("no-data/fleet", "no-data", AlertSeverity.Critical, "fleet",
                $"no device has sent anything for {Minutes(now - fl)} (limit {Minutes(options.NoDataAfter)}); last message {fl:O}", "/api/devices", fl));
        }
    }

    // fa-budget fires on the decided FA/hour (labelled false accepts only) and states the range; fa-budget-pending is the distinct
    // warning that the range's upper end (every detection pending review a false accept) is over the budget while the decided
    // value is not: pending reviews must not hide a budget breach, and must not page as one either.
    private void FaBudget(List<AlertCondition> firing)
    {
        string window = WindowName(options.FaWindow);
        foreach (FaScope scope in new[] { FaScope.Device, FaScope.Model })
        {
            foreach (FaGroup g in monitor.FalseAcceptRates(options.FaWindow, scope))
            {
                if (g.FaPerHour is not { } fa || g.FaPerHourUpper is not { } upper || g.ListeningHours < options.FaMinListeningHours)
                {
                    continue;
                }
                string what = scope == FaScope.Device ? "device" : "model";
                string evidence = $"/api/metrics/fa?window={Uri.EscapeDataString(window)}&by={what}";
                string range = FaRangeText.Format(fa, upper, g.PendingReview);
                if (fa > options.FaPerHourBudget)
                {
                    firing.Add(new AlertCondition($"fa-budget/{what}/{g.Key}", "fa-budget", AlertSeverity.Critical, $"{what}:{g.Key}",
                        string.Create(CultureInfo.InvariantCulture,
                            $"{what} {g.Key}: {fa:0.###} FA/h over {window} ({g.FalseAccepts} false accepts in {g.ListeningHours:0.##} listening hours), budget {options.FaPerHourBudget:0.###} FA/h; range {range}"),
                        evidence, null));
                }
                else if (upper > options.FaPerHourBudget)
                {
                    firing.Add(new AlertCondition($"fa-budget-pending/{what}/{g.Key}", "fa-budget-pending", AlertSeverity.Warning, $"{what}:{g.Key}",
                        string.Create(CultureInfo.InvariantCulture,
                            $"{what} {g.Key}: FA/hour may exceed {options.FaPerHourBudget:0.###} FA/h: {g.PendingReview} {(g.PendingReview == 1 ? "clip" : "clips")} waiting for review; range {range} over {window} ({g.FalseAccepts} decided false accepts in {g.ListeningHours:0.##} listening hours)"),
                        evidence, null));
                }
            }
        }
    }

    private void Drift(List<AlertCondition> firing)
    {
        string window = WindowName(options.DriftWindow);
        foreach (ModelDrift d in monitor.Drift(options.DriftWindow, null))
        {
            if (d.Report is not { Level: >= DriftLevel.Warning } r)
            {
                continue;
            }
            IEnumerable<FeatureDrift> features = r.Mfcc.Append(r.RmsDbfs);
            if (r.SnrDb is { } s)
            {
                features = features.Append(s);
            }
            string worst = string.Join(", ", features.Where(f => f.Level >= DriftLevel.Warning).OrderByDescending(f => f.Psi).Take(4)
                .Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Feature} PSI {f.Psi:0.###} KS {f.KsD:0.###}/{f.KsCritical:0.###}")));
            firing.Add(new AlertCondition($"drift/model/{d.ModelVersion}", "drift", AlertSeverity.Warning, "model:" + d.ModelVersion,
                $"model {d.ModelVersion}: {r.Level.ToString().ToLowerInvariant()} drift over {window} against its training baseline ({worst})",
                $"/api/metrics/drift?window={Uri.EscapeDataString(window)}&model={Uri.EscapeDataString(d.ModelVersion)}", null));
        }
    }

    private void IngestRates(DateTimeOffset now, List<AlertCondition> firing)
    {
        IngestCounts current = store.CountIngest(now - options.RateWindow, now);
        long total = current.Stored + current.Quarantined;
        if (total >= options.ErrorRateMinMessages && (double)current.Quarantined / total > options.ErrorRateThreshold)
        {
            firing.Add(new AlertCondition("error-rate/fleet", "error-rate", AlertSeverity.Warning, "fleet",
                string.Create(CultureInfo.InvariantCulture,
                    $"{(double)current.Quarantined / total:P1} of messages quarantined in the last {Minutes(options.RateWindow)} ({current.Quarantined} of {total}), limit {options.ErrorRateThreshold:P0}"),
                "/api/quarantine", null));
        }

        double baselinePerMinute = options.ThroughputBaselinePerMinute;
        if (baselinePerMinute <= 0)
        {
            IngestCounts history = store.CountIngest(now - options.RateWindow - options.ThroughputBaselineWindow, now - options.RateWindow);
            long historyTotal = history.Stored + history.Quarantined;
            if (historyTotal < options.ThroughputBaselineMinMessages)
            {
                return; // no baseline yet
            }
            baselinePerMinute = historyTotal / options.ThroughputBaselineWindow.TotalMinutes;
        }
        double perMinute = total / options.RateWindow.TotalMinutes;
        if (perMinute < options.ThroughputFraction * baselinePerMinute)
        {
            firing.Add(new AlertCondition("throughput/fleet", "throughput", AlertSeverity.Warning, "fleet",
                string.Create(CultureInfo.InvariantCulture,
                    $"ingest {perMinute:0.#} msg/min over the last {Minutes(options.RateWindow)} is below {options.ThroughputFraction:P0} of the baseline {baselinePerMinute:0.#} msg/min"),
                "/api/metrics/ingest", null));
        }
    }

    // One warning per device whose recent skew results include a clip over the limit (or features from an unknown front end).
    private void Skew(DateTimeOffset now, List<AlertCondition> firing)
    {
        foreach (IGrouping<string, SkewResult> device in store.ReadSkewResults(null, 10_000).Where(r => r.ComputedUtc >= now - options.SkewWindow)
                     .GroupBy(r => r.DeviceId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            SkewResult[] over = device.Where(r => r.Status == SkewStatus.UnknownFrontEnd
                || (r.Status == SkewStatus.Compared && r.MaxRelativeDifference > options.SkewRelativeLimit)).ToArray();
            if (over.Length == 0)
            {
                continue;
            }
            SkewResult worst = over.OrderByDescending(r => r.Status == SkewStatus.UnknownFrontEnd ? double.PositiveInfinity : r.MaxRelativeDifference).First();
            firing.Add(new AlertCondition($"skew/device/{device.Key}", "skew", AlertSeverity.Warning, "device:" + device.Key,
                string.Create(CultureInfo.InvariantCulture,
                    $"device {device.Key}: {over.Length} of {device.Count()} clips differ from the gateway's feature recomputation (limit {options.SkewRelativeLimit:G3} relative); worst clip {worst.ClipId}: {worst.Message}"),
                "/api/metrics/skew?device=" + Uri.EscapeDataString(device.Key), over.Min(r => r.ComputedUtc)));
        }
    }

    private static string Minutes(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:0.#} min");

    private static string WindowName(TimeSpan t) =>
        MetricsWindows.All.FirstOrDefault(w => w.Length == t).Name ?? string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:0.##}h");
}

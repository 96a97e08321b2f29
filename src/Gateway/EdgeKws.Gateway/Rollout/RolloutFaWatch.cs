using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// What production says about the version being rolled out: its listening hours, false accepts and pending reviews on the
/// rollout's devices (labels and heartbeat listening hours in the store), against the previous version's over the comparison
/// window and its offline figure, judged by <see cref="ProductionFaRule"/>. Also the listening hours a step has soaked.
/// </summary>
internal sealed class RolloutFaWatch(IGatewayStore store, ModelLoopOptions options)
{
    private RolloutOptions Rules => options.Rollout;

    /// <summary>The FA/hour rule's verdict on the rollout so far (trip: halt; hold: wait for reviews).</summary>
    public FaWatch Watch(RolloutRecord r, DateTimeOffset now)
    {
        FaActivity fresh = Activity(r, r.StartedUtc, now, onlyRolloutDevices: true, r.ModelVersion);
        FaActivity old = r.PreviousVersion is { } previous ? Activity(r, now - Rules.ComparisonWindow, now, onlyRolloutDevices: false, previous) : default;
        double? offline = r.PreviousVersion is { } p && store.TryGetRegisteredModel(p, out RegisteredModel? m) ? m!.FaPerHour : null;
        return ProductionFaRule.Evaluate(fresh, old, offline, Rules, now);
    }

    /// <summary>Listening hours of the new version on the rollout's devices between the two times (the soak of a step).</summary>
    public double ListeningHours(RolloutRecord r, DateTimeOffset fromUtc, DateTimeOffset toUtc) =>
        Activity(r, fromUtc, toUtc, onlyRolloutDevices: true, r.ModelVersion).ListeningHours;

    private FaActivity Activity(RolloutRecord r, DateTimeOffset fromUtc, DateTimeOffset toUtc, bool onlyRolloutDevices, string version)
    {
        if (toUtc <= fromUtc)
        {
            return default;
        }
        HashSet<string> ids = r.Devices.Select(d => d.DeviceId).ToHashSet(StringComparer.Ordinal);
        double seconds = 0;
        long falseAccepts = 0, pending = 0;
        // One bucket covering the whole range: the store sums per (device, version).
        foreach (ActivityRow row in store.ReadActivity(fromUtc, toUtc, (toUtc - fromUtc) + TimeSpan.FromDays(1)))
        {
            if (row.ModelVersion == version && (!onlyRolloutDevices || ids.Contains(row.DeviceId)))
            {
                seconds += row.ListeningSeconds;
                falseAccepts += row.FalseAccepts;
                pending += row.PendingReview;
            }
        }
        return new FaActivity(seconds / 3600.0, falseAccepts, pending);
    }
}

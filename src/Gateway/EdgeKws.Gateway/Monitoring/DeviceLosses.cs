using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>What one kind of message lost, cumulatively or in a window.</summary>
/// <param name="Written">Stored in the device's outbox.</param>
/// <param name="Evicted">Evicted unsent (quota or full disk).</param>
/// <param name="Expired">Expired unsent.</param>
/// <param name="Failed">Not stored: refused or the write failed.</param>
/// <param name="Dropped">Dropped before the outbox (writer queue full).</param>
public sealed record KindLosses(long Written, long Evicted, long Expired, long Failed, long Dropped)
{
    /// <summary>Evicted + expired + failed + dropped.</summary>
    public long Lost => Evicted + Expired + Failed + Dropped;
}

/// <summary>A device's totals at one heartbeat, with losses per kind.</summary>
/// <param name="Epoch">Totals epoch.</param>
/// <param name="Sequence">Heartbeat they come from.</param>
/// <param name="DeviceTimeUtc">Its device time.</param>
/// <param name="ListeningSeconds">Listening seconds.</param>
/// <param name="Detections">Detections raised.</param>
/// <param name="AudioOverruns">Capture overruns.</param>
/// <param name="Lost">Messages lost, all kinds.</param>
/// <param name="PerKind">Per kind (wire names: detection, heartbeat, driftSketch, ...).</param>
public sealed record LossTotals(string Epoch, long Sequence, DateTimeOffset DeviceTimeUtc, double ListeningSeconds, long Detections, long AudioOverruns,
    long Lost, IReadOnlyDictionary<string, KindLosses> PerKind);

/// <summary>Losses in one window, from the difference of the newest totals before its end and before its start.</summary>
/// <param name="Window">1h, 24h or 7d.</param>
/// <param name="ListeningSeconds">Listening seconds the totals account for in the window.</param>
/// <param name="Lost">Messages lost in the window, all kinds.</param>
/// <param name="PerKind">Per kind.</param>
/// <param name="TotalsRestarted">The device's totals restarted (new epoch) in the window: what it lost between its last
/// heartbeat of the old epoch and the restart is unknown.</param>
/// <param name="LegacyHeartbeats">Heartbeats without totals in the window (a device not yet updated).</param>
/// <param name="LegacyEvicted">Evictions those report (per interval; lost heartbeats' intervals are missing).</param>
/// <param name="LegacyExpired">Expiries those report.</param>
public sealed record WindowLosses(string Window, double ListeningSeconds, long Lost, IReadOnlyDictionary<string, KindLosses> PerKind,
    bool TotalsRestarted, long LegacyHeartbeats, long LegacyEvicted, long LegacyExpired);

/// <summary>A device's losses: since its first start, and per monitoring window.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="SinceFirstStart">The newest totals, or null when the device has sent none (not updated yet).</param>
/// <param name="Windows">1h, 24h, 7d.</param>
public sealed record DeviceLossReport(string DeviceId, LossTotals? SinceFirstStart, IReadOnlyList<WindowLosses> Windows);

/// <summary>Computes <see cref="DeviceLossReport"/>s from the heartbeat totals in the store (windows end at the clock's now).</summary>
public sealed class DeviceLosses(IGatewayStore store, TimeProvider clock)
{
    /// <summary>The report of one device.</summary>
    public DeviceLossReport Report(string deviceId)
    {
        DateTimeOffset now = clock.GetUtcNow();
        // A heartbeat's device time may run a little ahead of the gateway's clock; "newest" means newest stored.
        HeartbeatTotalsRecord? latest = store.ReadLatestHeartbeatTotals(deviceId, now + WireLimits.MaxFutureSkew);
        var windows = new List<WindowLosses>();
        foreach ((string name, TimeSpan length) in MetricsWindows.All)
        {
            LegacyHeartbeatLosses legacy = store.ReadLegacyHeartbeatLosses(deviceId, now - length, now + WireLimits.MaxFutureSkew);
            HeartbeatTotalsRecord? before = latest is null ? null : store.ReadLatestHeartbeatTotals(deviceId, now - length);
            bool sameEpoch = before is not null && latest is not null && before.Totals.Epoch == latest.Totals.Epoch;
            HeartbeatTotals? baseTotals = sameEpoch ? before!.Totals : null;
            Dictionary<string, KindLosses> perKind = latest is null ? [] : PerKind(latest.Totals, baseTotals);
            windows.Add(new WindowLosses(name,
                latest is null ? 0 : latest.Totals.ListeningSeconds - (baseTotals?.ListeningSeconds ?? 0),
                perKind.Values.Sum(k => k.Lost), perKind, before is not null && latest is not null && !sameEpoch,
                legacy.Heartbeats, legacy.OutboxEvicted, legacy.OutboxExpired));
        }
        LossTotals? since = null;
        if (latest is not null)
        {
            Dictionary<string, KindLosses> all = PerKind(latest.Totals, null);
            since = new LossTotals(latest.Totals.Epoch, latest.Sequence, latest.DeviceTimeUtc, latest.Totals.ListeningSeconds, latest.Totals.Detections,
                latest.Totals.AudioOverruns, all.Values.Sum(k => k.Lost), all);
        }
        return new DeviceLossReport(deviceId, since, windows);
    }

    private static Dictionary<string, KindLosses> PerKind(HeartbeatTotals now, HeartbeatTotals? then)
    {
        var result = new Dictionary<string, KindLosses>(StringComparer.Ordinal);
        Dictionary<string, OutboxClassTotals> earlier = then?.Outbox.All().ToDictionary(k => k.Kind, k => k.Totals, StringComparer.Ordinal) ?? [];
        foreach ((string kind, OutboxClassTotals t) in now.Outbox.All())
        {
            earlier.TryGetValue(kind, out OutboxClassTotals? e);
            result[kind] = new KindLosses(t.Written - (e?.Written ?? 0), t.Evicted - (e?.Evicted ?? 0), t.Expired - (e?.Expired ?? 0),
                t.Failed - (e?.Failed ?? 0), t.Dropped - (e?.Dropped ?? 0));
        }
        return result;
    }
}

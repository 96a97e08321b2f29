using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Listening;

/// <summary>
/// Writer thread: completes a heartbeat with the outbox's figures: the per-interval counts of the wire's first fields
/// (evicted and expired since the previous heartbeat) and the cumulative <see cref="HeartbeatTotals"/> (device totals as
/// posted, outbox counters per class as of now), and serializes it.
/// </summary>
internal sealed class HeartbeatComposer(string deviceId, string totalsEpoch, Action<string>? log)
{
    private long _evicted = -1;
    private long _expired = -1;

    /// <summary>The heartbeat's wire JSON, or null (logged) when it fails the wire contract.</summary>
    public byte[]? Compose(HeartbeatSnapshot hb, OutboxDeviceTotals totals, OutboxStats stats)
    {
        long evicted = 0, expired = 0;
        foreach (OutboxClassStats s in stats.PerClass)
        {
            evicted += s.EvictedCount;
            expired += s.ExpiredCount;
        }
        if (_evicted < 0)
        {
            // The store's counters are cumulative over its life; report what happened since this agent started.
            _evicted = evicted;
            _expired = expired;
        }
        var heartbeat = new Heartbeat
        {
            DeviceId = deviceId,
            DeviceTimeUtc = hb.Utc,
            IntervalSeconds = hb.IntervalSeconds,
            ListeningSeconds = hb.ListeningSeconds,
            Detections = hb.Detections,
            AudioOverruns = hb.Overruns,
            OutboxDepthCount = stats.TotalCount,
            OutboxDepthBytes = stats.TotalBytes,
            OutboxEvictedCount = evicted - _evicted,
            OutboxExpiredCount = expired - _expired,
            ModelVersion = hb.ModelVersion,
            Totals = new HeartbeatTotals
            {
                Epoch = totalsEpoch,
                ListeningSeconds = totals.ListeningSeconds,
                Detections = totals.Detections,
                AudioOverruns = totals.AudioOverruns,
                Outbox = stats.ToWireTotals(),
                NearMisses = totals.NearMisses,
                NearMissesRateLimited = totals.NearMissesRateLimited,
            },
            RssBytes = ProcessMemory.ResidentBytes(),
            UptimeSeconds = hb.UptimeSeconds,
        };
        _evicted = evicted;
        _expired = expired;
        if (!heartbeat.TryValidate(out string why))
        {
            log?.Invoke($"heartbeat not sent, it fails the wire contract: {why}");
            return null;
        }
        return WireJson.Serialize(heartbeat);
    }
}

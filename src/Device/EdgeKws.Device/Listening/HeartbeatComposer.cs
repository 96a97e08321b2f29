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
                Outbox = new OutboxTotals
                {
                    Detection = ClassTotals(stats, OutboxMessageClass.Detection),
                    Heartbeat = ClassTotals(stats, OutboxMessageClass.Heartbeat),
                    DriftSketch = ClassTotals(stats, OutboxMessageClass.Sketch),
                    ClipFeatures = ClassTotals(stats, OutboxMessageClass.ClipFeatures),
                    ClipAudio = ClassTotals(stats, OutboxMessageClass.ClipAudio),
                    ModelStatus = ClassTotals(stats, OutboxMessageClass.ModelStatus),
                    EnrollmentQc = ClassTotals(stats, OutboxMessageClass.EnrollmentQc),
                    NearMiss = ClassTotals(stats, OutboxMessageClass.NearMiss),
                },
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

    /// <summary>One class's outbox counters as the wire names them: refusals and failed writes are both "failed".</summary>
    private static OutboxClassTotals ClassTotals(OutboxStats stats, OutboxMessageClass messageClass)
    {
        OutboxClassStats c = stats.For(messageClass);
        return new OutboxClassTotals
        {
            Written = c.WrittenCount,
            Evicted = c.EvictedCount,
            Expired = c.ExpiredCount,
            Failed = c.RefusedCount + c.FailedCount,
            Dropped = c.DroppedCount,
        };
    }
}

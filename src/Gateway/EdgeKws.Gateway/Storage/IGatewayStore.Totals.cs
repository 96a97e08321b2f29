using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// One stored heartbeat as the listening-time computation needs it, with the values of its predecessor: the newest
/// earlier heartbeat (by sequence) of the same device and the same totals epoch, if one is stored.
/// </summary>
/// <param name="DeviceTimeUtcMs">End of the heartbeat's interval, device time.</param>
/// <param name="DeviceId">Device.</param>
/// <param name="ModelVersion">Model the heartbeat reports.</param>
/// <param name="ListeningSeconds">Per-interval listening seconds (every heartbeat has them).</param>
/// <param name="OutboxEvictedCount">Per-interval evictions the heartbeat reports.</param>
/// <param name="OutboxExpiredCount">Per-interval expiries the heartbeat reports.</param>
/// <param name="Epoch">Totals epoch, or null for a heartbeat without totals (a device that predates them).</param>
/// <param name="TotalListeningSeconds">Listening seconds since the device's first start.</param>
/// <param name="TotalDetectionsLost">Detections the device's outbox lost since its first start (evicted, expired, failed, dropped).</param>
/// <param name="PreviousTotalListeningSeconds">The predecessor's total, or null when none is stored.</param>
/// <param name="PreviousTotalDetectionsLost">The predecessor's lost detections.</param>
/// <param name="EarlierEpochExists">No predecessor of this epoch, but an earlier heartbeat of another epoch is stored: the device's totals restarted.</param>
public readonly record struct HeartbeatChainRow(long DeviceTimeUtcMs, string DeviceId, string ModelVersion, double ListeningSeconds,
    long OutboxEvictedCount, long OutboxExpiredCount, string? Epoch, double? TotalListeningSeconds, long? TotalDetectionsLost,
    double? PreviousTotalListeningSeconds, long? PreviousTotalDetectionsLost, bool EarlierEpochExists);

/// <summary>The newest stored heartbeat that carries totals.</summary>
/// <param name="DeviceId">Device.</param>
/// <param name="Sequence">Its sequence.</param>
/// <param name="DeviceTimeUtc">End of its interval, device time.</param>
/// <param name="Totals">The totals it carries.</param>
public sealed record HeartbeatTotalsRecord(string DeviceId, long Sequence, DateTimeOffset DeviceTimeUtc, HeartbeatTotals Totals);

/// <summary>What heartbeats without totals (devices that predate them) reported in a window: per-interval counts only.</summary>
/// <param name="Heartbeats">Such heartbeats stored in the window.</param>
/// <param name="ListeningSeconds">Their listening seconds.</param>
/// <param name="OutboxEvicted">Evictions they report.</param>
/// <param name="OutboxExpired">Expiries they report.</param>
public readonly record struct LegacyHeartbeatLosses(long Heartbeats, double ListeningSeconds, long OutboxEvicted, long OutboxExpired);

/// <summary>The heartbeat-totals concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IHeartbeatTotalsStore
{
}

/// <summary>
/// Heartbeat totals (schema step 7, columns on <c>heartbeats</c>): the cumulative counters devices report (see
/// <see cref="HeartbeatTotals"/>). One implementation over both databases (<see cref="HeartbeatTotalsStore"/>); the totals are stored
/// with their heartbeat by the batch write (<see cref="IIngestStore.WriteBatch"/>).
/// </summary>
public interface IHeartbeatTotalsStore
{
    /// <summary>The newest heartbeat of <paramref name="deviceId"/> with totals whose device time is before
    /// <paramref name="beforeUtc"/>, or null.</summary>
    HeartbeatTotalsRecord? ReadLatestHeartbeatTotals(string deviceId, DateTimeOffset beforeUtc);

    /// <summary>Per-interval figures of the device's heartbeats without totals whose device time is in [from, to).</summary>
    LegacyHeartbeatLosses ReadLegacyHeartbeatLosses(string deviceId, DateTimeOffset fromUtc, DateTimeOffset toUtc);
}

/// <summary>
/// Listening time from heartbeats: what each stored heartbeat contributes to the FA/hour denominator.
/// </summary>
/// <remarks>
/// <para>A heartbeat with totals contributes its total minus its predecessor's (the newest earlier heartbeat of the same
/// epoch that is stored), so heartbeats the device lost or evicted in between cost only time resolution: their listening
/// is counted at the next heartbeat that arrives. The first heartbeat of an epoch contributes its whole total (everything
/// since the device's first start). A heartbeat without totals contributes its own interval, as before.</para>
/// <para>The denominator is <b>incomplete</b> when the stored data cannot account for all listening: the device's totals
/// restarted (a new epoch after an older one: the old epoch's tail after its last stored heartbeat is unknown), a total
/// went down within an epoch, or a heartbeat without totals reports outbox evictions or expiries (it may have lost
/// heartbeats, whose listening seconds are then missing).</para>
/// </remarks>
public static class HeartbeatListening
{
    /// <summary>Listening seconds, completeness and lost detections one heartbeat contributes.</summary>
    public static (double ListeningSeconds, bool Incomplete, long DetectionsLost) Contribution(in HeartbeatChainRow row)
    {
        if (row.Epoch is null || row.TotalListeningSeconds is not { } total)
        {
            return (row.ListeningSeconds, row.OutboxEvictedCount + row.OutboxExpiredCount > 0, 0);
        }
        long lost = row.TotalDetectionsLost ?? 0;
        if (row.PreviousTotalListeningSeconds is { } previous)
        {
            double delta = total - previous;
            long lostDelta = Math.Max(0, lost - (row.PreviousTotalDetectionsLost ?? 0));
            return delta < 0 ? (0, true, lostDelta) : (delta, false, lostDelta);
        }
        return (total, row.EarlierEpochExists, lost);
    }

    /// <summary>Lost messages of the Detection class in <paramref name="totals"/>.</summary>
    public static long DetectionsLost(HeartbeatTotals totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        return totals.Outbox.Detection.Lost;
    }
}

namespace EdgeKws.Gateway.Storage;

/// <summary>Heartbeat totals in the SQLite store (schema version 7).</summary>
public sealed partial class SqliteGatewayStore
{
    // Version 5 -> 6: the totals a heartbeat carries (null for devices that predate them). The scalar columns are what the
    // FA/hour denominator and the loss flags need; the JSON keeps the whole object for the losses API. The index finds a
    // heartbeat's predecessor of the same epoch.
    private static readonly string[] HeartbeatTotalsDdl =
    [
        "ALTER TABLE heartbeats ADD COLUMN totals_epoch TEXT",
        "ALTER TABLE heartbeats ADD COLUMN total_listening_s REAL",
        "ALTER TABLE heartbeats ADD COLUMN total_detections INTEGER",
        "ALTER TABLE heartbeats ADD COLUMN total_detections_lost INTEGER",
        "ALTER TABLE heartbeats ADD COLUMN totals_json TEXT",
        "CREATE INDEX IF NOT EXISTS heartbeats_epoch ON heartbeats (device_id, totals_epoch, seq)",
    ];

    /// <inheritdoc />
    public HeartbeatTotalsRecord? ReadLatestHeartbeatTotals(string deviceId, DateTimeOffset beforeUtc)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<TotalsSqlRow> rows = _reader.Query<TotalsSqlRow>(
                """
                SELECT seq AS Seq, device_time_utc_ms AS DeviceTime, totals_json AS Json FROM heartbeats
                WHERE device_id = ?1 AND totals_json IS NOT NULL AND device_time_utc_ms < ?2 ORDER BY device_time_utc_ms DESC, seq DESC LIMIT 1
                """, deviceId, beforeUtc.ToUnixTimeMilliseconds());
            return rows.Count == 1 && TotalsJson.Parse(rows[0].Json) is { } totals
                ? new HeartbeatTotalsRecord(deviceId, rows[0].Seq, DateTimeOffset.FromUnixTimeMilliseconds(rows[0].DeviceTime), totals)
                : null;
        }
    }

    /// <inheritdoc />
    public LegacyHeartbeatLosses ReadLegacyHeartbeatLosses(string deviceId, DateTimeOffset fromUtc, DateTimeOffset toUtc)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            LegacySqlRow r = _reader.Query<LegacySqlRow>(
                """
                SELECT COUNT(*) AS Heartbeats, COALESCE(SUM(listening_s), 0.0) AS Listening, COALESCE(SUM(outbox_evicted_count), 0) AS Evicted,
                       COALESCE(SUM(outbox_expired_count), 0) AS Expired
                FROM heartbeats WHERE device_id = ?1 AND totals_json IS NULL AND device_time_utc_ms >= ?2 AND device_time_utc_ms < ?3
                """, deviceId, fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds())[0];
            return new LegacyHeartbeatLosses(r.Heartbeats, r.Listening, r.Evicted, r.Expired);
        }
    }

    private sealed class TotalsSqlRow
    {
        public long Seq { get; set; }
        public long DeviceTime { get; set; }
        public string? Json { get; set; }
    }

    private sealed class LegacySqlRow
    {
        public long Heartbeats { get; set; }
        public double Listening { get; set; }
        public long Evicted { get; set; }
        public long Expired { get; set; }
    }
}

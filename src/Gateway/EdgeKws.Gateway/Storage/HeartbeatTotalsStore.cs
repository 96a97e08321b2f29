namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Heartbeat totals (schema step 7: columns on <c>heartbeats</c>) over either database: the one implementation of
/// <see cref="IHeartbeatTotalsStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to.
/// Only reads: the totals are written with their heartbeat by the batch write (<see cref="IIngestStore.WriteBatch"/>), which is
/// still written per database.
/// </summary>
internal sealed class HeartbeatTotalsStore(IStoreConnections db) : IHeartbeatTotalsStore
{
    /// <summary>Schema step 7 (version 6 -> 7): the totals a heartbeat carries (null for devices that predate them). The scalar
    /// columns are what the FA/hour denominator and the loss flags need; the JSON keeps the whole object for the losses API. The
    /// index finds a heartbeat's predecessor of the same epoch. Same text as both stores' old arrays.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        d.AddColumn("heartbeats", "totals_epoch", d.Text),
        d.AddColumn("heartbeats", "total_listening_s", d.Real),
        d.AddColumn("heartbeats", "total_detections", d.Int64),
        d.AddColumn("heartbeats", "total_detections_lost", d.Int64),
        d.AddColumn("heartbeats", "totals_json", d.Text),
        "CREATE INDEX IF NOT EXISTS heartbeats_epoch ON heartbeats (device_id, totals_epoch, seq)",
    ];

    /// <inheritdoc />
    public HeartbeatTotalsRecord? ReadLatestHeartbeatTotals(string deviceId, DateTimeOffset beforeUtc)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        // A row whose JSON does not parse reads as none, as both stores always did (it was validated at ingest).
        return db.Read(s => s.Query(
                """
                SELECT seq, device_time_utc_ms, totals_json FROM heartbeats
                WHERE device_id = $1 AND totals_json IS NOT NULL AND device_time_utc_ms < $2 ORDER BY device_time_utc_ms DESC, seq DESC LIMIT 1
                """,
                r => TotalsJson.Parse(r.GetString(2)) is { } totals
                    ? new HeartbeatTotalsRecord(deviceId, r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), totals)
                    : null,
                deviceId, beforeUtc.ToUnixTimeMilliseconds()))
            .FirstOrDefault();
    }

    /// <inheritdoc />
    public LegacyHeartbeatLosses ReadLegacyHeartbeatLosses(string deviceId, DateTimeOffset fromUtc, DateTimeOffset toUtc)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        // CAST: PostgreSQL sums bigint columns as numeric (PostgreSQL's store cast with ::bigint); SQLite's sum of integers is
        // already an integer, and CAST AS bigint leaves it one. Both databases speak CAST, not ::.
        return db.Read(s => s.Query(
                """
                SELECT count(*), coalesce(sum(listening_s), 0.0), CAST(coalesce(sum(outbox_evicted_count), 0) AS bigint),
                       CAST(coalesce(sum(outbox_expired_count), 0) AS bigint)
                FROM heartbeats WHERE device_id = $1 AND totals_json IS NULL AND device_time_utc_ms >= $2 AND device_time_utc_ms < $3
                """,
                r => new LegacyHeartbeatLosses(r.GetInt64(0), r.GetDouble(1), r.GetInt64(2), r.GetInt64(3)),
                deviceId, fromUtc.ToUnixTimeMilliseconds(), toUtc.ToUnixTimeMilliseconds()))[0];
    }
}

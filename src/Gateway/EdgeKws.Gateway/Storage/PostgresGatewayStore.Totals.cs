using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>Heartbeat totals in the PostgreSQL store (schema version 7), as in <see cref="SqliteGatewayStore"/>.</summary>
public sealed partial class PostgresGatewayStore
{
    // Version 5 -> 6, idempotent (IF NOT EXISTS), run under the schema lock.
    private static readonly string[] HeartbeatTotalsDdl =
    [
        "ALTER TABLE heartbeats ADD COLUMN IF NOT EXISTS totals_epoch text",
        "ALTER TABLE heartbeats ADD COLUMN IF NOT EXISTS total_listening_s double precision",
        "ALTER TABLE heartbeats ADD COLUMN IF NOT EXISTS total_detections bigint",
        "ALTER TABLE heartbeats ADD COLUMN IF NOT EXISTS total_detections_lost bigint",
        "ALTER TABLE heartbeats ADD COLUMN IF NOT EXISTS totals_json text",
        "CREATE INDEX IF NOT EXISTS heartbeats_epoch ON heartbeats (device_id, totals_epoch, seq)",
    ];

    /// <inheritdoc />
    public HeartbeatTotalsRecord? ReadLatestHeartbeatTotals(string deviceId, DateTimeOffset beforeUtc)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT seq, device_time_utc_ms, totals_json FROM heartbeats
            WHERE device_id = $1 AND totals_json IS NOT NULL AND device_time_utc_ms < $2 ORDER BY device_time_utc_ms DESC, seq DESC LIMIT 1
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(beforeUtc.ToUnixTimeMilliseconds()));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        return r.Read() && TotalsJson.Parse(r.GetString(2)) is { } totals
            ? new HeartbeatTotalsRecord(deviceId, r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), totals)
            : null;
    }

    /// <inheritdoc />
    public LegacyHeartbeatLosses ReadLegacyHeartbeatLosses(string deviceId, DateTimeOffset fromUtc, DateTimeOffset toUtc)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT count(*), coalesce(sum(listening_s), 0.0), coalesce(sum(outbox_evicted_count), 0)::bigint, coalesce(sum(outbox_expired_count), 0)::bigint
            FROM heartbeats WHERE device_id = $1 AND totals_json IS NULL AND device_time_utc_ms >= $2 AND device_time_utc_ms < $3
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(fromUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(toUtc.ToUnixTimeMilliseconds()));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        r.Read();
        return new LegacyHeartbeatLosses(r.GetInt64(0), r.GetDouble(1), r.GetInt64(2), r.GetInt64(3));
    }
}

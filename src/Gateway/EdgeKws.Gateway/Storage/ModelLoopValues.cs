namespace EdgeKws.Gateway.Storage;

/// <summary>The model loop's store SQL that both stores share.</summary>
internal static class ModelLoopValues
{
    /// <summary>Per (bucket, model): decided TrueAccept triggers and near misses, and those pending review. One text for both stores
    /// (integer division truncates the same way in both, so the buckets match <c>ReadActivity</c>'s; the aliases are what sqlite-net maps by
    /// name): SQLite passes ?1..?3 for the placeholders, PostgreSQL $1..$3.</summary>
    public static string RecallSql(string from, string to, string bucket) =>
        $"""
        SELECT x.bucket AS Bucket, x.model_version AS ModelVersion, sum(x.ta_trigger) AS TaTriggers, sum(x.ta_near) AS TaNear,
               sum(x.pending_trigger) AS PendingTriggers, sum(x.pending_near) AS PendingNear
        FROM (
            SELECT (d.device_time_utc_ms / {bucket}) * {bucket} AS bucket, d.model_version,
                   CASE WHEN l.label = 'TrueAccept' THEN 1 ELSE 0 END AS ta_trigger, 0 AS ta_near,
                   {MonitoringValues.PendingReviewSql} AS pending_trigger, 0 AS pending_near
            FROM detections d LEFT JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
            WHERE d.device_time_utc_ms >= {from} AND d.device_time_utc_ms < {to}
            UNION ALL
            SELECT (n.device_time_utc_ms / {bucket}) * {bucket}, n.model_version, 0, CASE WHEN n.label = 'TrueAccept' THEN 1 ELSE 0 END, 0,
                   CASE WHEN n.label = 'Unknown' OR (n.label IS NULL AND n.clip_id IS NOT NULL AND EXISTS
                       (SELECT 1 FROM clips c WHERE c.device_id = n.device_id AND c.clip_id = n.clip_id)) THEN 1 ELSE 0 END
            FROM near_misses n
            WHERE n.device_time_utc_ms >= {from} AND n.device_time_utc_ms < {to}
        ) x
        GROUP BY x.bucket, x.model_version ORDER BY x.bucket, x.model_version
        """;
}

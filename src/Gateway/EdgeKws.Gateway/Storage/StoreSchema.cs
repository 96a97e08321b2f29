namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The gateway schema's versions and the DDL of each step, written once for both databases (each concern class owns its step's
/// <c>Ddl(StoreDialect)</c>). How a store records its version and runs the steps is its own: SQLite <c>PRAGMA user_version</c> in a
/// <c>BEGIN IMMEDIATE</c> transaction, skipping an <c>ADD COLUMN</c> whose column exists; PostgreSQL <c>schema_info</c> in one
/// transaction under an advisory lock, so instances starting together migrate once.
/// </summary>
internal static class StoreSchema
{
    /// <summary>The schema version this build creates and knows: a database with a newer one is refused by name.</summary>
    public const int Version = 11;

    /// <summary>
    /// The statements that bring a database of schema <paramref name="fromVersion"/> to <see cref="Version"/>, in order; each is
    /// idempotent. 1: ingest tables; 2: monitoring (cohort, labels, models, evaluations, alerts); 3: governance (dataset membership,
    /// model marks) and skew results; 4: labeling (label provenance, review entries, re-review audits); 5: model registry and
    /// rollouts; 6: HTTP API tokens and the audit log; 7: heartbeat totals; 8: near misses; 9: float weights of registered models;
    /// 10: the fine-tune policy's baseline; 11: the labeling models (verifiers and calibrations) with their lineage.
    /// </summary>
    public static string[] Steps(StoreDialect d, int fromVersion) =>
    [
        .. fromVersion < 1 ? IngestStore.Ddl(d) : [],
        .. fromVersion < 2 ? MonitoringStore.Ddl(d) : [],
        .. fromVersion < 2 ? DetectionLabelStore.Ddl(d) : [],
        .. fromVersion < 2 ? AlertStore.Ddl(d) : [],
        .. fromVersion < 3 ? GovernanceStore.Ddl(d) : [],
        .. fromVersion < 4 ? LabelingStore.Ddl(d) : [],
        .. fromVersion < 5 ? RolloutStore.Ddl(d) : [],
        .. fromVersion < 6 ? AccessStore.Ddl(d) : [],
        .. fromVersion < 7 ? HeartbeatTotalsStore.Ddl(d) : [],
        .. fromVersion < 8 ? NearMissStore.Ddl(d) : [],
        .. fromVersion < 9 ? RolloutStore.FloatWeightsDdl(d) : [],
        .. fromVersion < 10 ? ModelLoopStore.Ddl(d) : [],
        .. fromVersion < 11 ? LabelingModelStore.Ddl(d) : [],
    ];
}

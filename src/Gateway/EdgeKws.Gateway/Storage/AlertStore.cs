namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Alerts over either database (schema step 2: the <c>alerts</c> table and its partial unique index): the one implementation of
/// <see cref="IAlertStore"/>, which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. SQL is written
/// once; <see cref="StoreDialect"/> supplies the DDL types, <see cref="StoreDialect.Limit"/> and <see cref="StoreDialect.LockTransaction"/>,
/// which serialises the evaluations of all gateway instances.
/// </summary>
internal sealed class AlertStore(IStoreConnections db) : IAlertStore
{
    // Serialises alert evaluations of all gateway instances on one PostgreSQL database (an arbitrary constant key, distinct from
    // the schema's); the value PostgreSQL's store has always used, so an old and a new instance still exclude each other.
    private const long AlertsLockKey = 0x45444745_4B574131;

    private const string AlertSelect =
        "SELECT id, key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms, resolved_utc_ms FROM alerts";

    /// <summary>The alerts part of schema step 2 (version 1 -> 2, with <see cref="MonitoringStore.Ddl"/> and
    /// <see cref="DetectionLabelStore.Ddl"/>), each statement idempotent.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS alerts (
            id                     {d.IdentityPrimaryKey},
            key                    {d.Text} NOT NULL,
            kind                   {d.Text} NOT NULL,
            severity               {d.Text} NOT NULL,
            subject                {d.Text} NOT NULL,
            message                {d.Text} NOT NULL,
            evidence_url           {d.Text} NOT NULL,
            since_utc_ms           {d.Int64} NOT NULL,
            last_evaluated_utc_ms  {d.Int64} NOT NULL,
            resolved_utc_ms        {d.Int64}
        )
        """,
        // At most one active alert per key: the deduplication rule, enforced by the database (and the ON CONFLICT target of ApplyAlerts).
        "CREATE UNIQUE INDEX IF NOT EXISTS alerts_active_key ON alerts (key) WHERE resolved_utc_ms IS NULL",
    ];

    /// <inheritdoc />
    public void ApplyAlerts(IReadOnlyList<AlertCondition> firing, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(firing);
        long now = nowUtc.ToUnixTimeMilliseconds();
        db.Write(s => s.InTransaction(() =>
        {
            // Every instance runs the alert rules; one evaluation at a time across all of them, so each sees the previous one's rows.
            s.Dialect.LockTransaction(s, AlertsLockKey);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var kept = new HashSet<long>();
            foreach (AlertCondition c in firing)
            {
                if (!keys.Add(c.Key))
                {
                    continue;
                }
                // Opens an alert, or updates the active one of the key (the partial unique index is the conflict target): deduplicated
                // while active; kind, subject and since of the open alert stay as they were.
                kept.Add(s.Query(
                    """
                    INSERT INTO alerts (key, kind, severity, subject, message, evidence_url, since_utc_ms, last_evaluated_utc_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (key) WHERE resolved_utc_ms IS NULL DO UPDATE SET severity = excluded.severity, message = excluded.message,
                        evidence_url = excluded.evidence_url, last_evaluated_utc_ms = excluded.last_evaluated_utc_ms
                    RETURNING id
                    """,
                    r => r.GetInt64(0), c.Key, c.Kind, c.Severity.ToString(), c.Subject, c.Message, c.EvidenceUrl, (c.SinceUtc ?? nowUtc).ToUnixTimeMilliseconds(), now)[0]);
            }
            // Every other active alert is resolved. Chosen by the ids just written rather than by key text: the key a database stores
            // may differ from the C# string (a lone surrogate does not survive either database's text, nor U+0000 PostgreSQL's), and an
            // id compares the same on both.
            // One ExecuteBatch (PostgreSQL: one round trip for all of them).
            s.ExecuteBatch([.. s.Query("SELECT id FROM alerts WHERE resolved_utc_ms IS NULL", r => r.GetInt64(0))
                .Where(id => !kept.Contains(id))
                .Select(id => new StoreStatement("UPDATE alerts SET resolved_utc_ms = $1 WHERE id = $2", [now, id]))]);
            return 0;
        }));
    }

    /// <inheritdoc />
    public IReadOnlyList<AlertRecord> ReadAlerts(bool activeOnly, int limit) =>
        db.Read(s => s.Query(
            $"{AlertSelect} {(activeOnly ? "WHERE resolved_utc_ms IS NULL" : string.Empty)} ORDER BY id DESC LIMIT $1",
            r => new AlertRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), Enum.Parse<AlertSeverity>(r.GetString(3)), r.GetString(4), r.GetString(5),
                r.GetString(6), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(7)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(8)),
                r.IsNull(9) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9))),
            db.Dialect.Limit(limit)));
}

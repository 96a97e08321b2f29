using System.Security.Cryptography;
using EdgeKws.Gateway.Security;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// HTTP API tokens and the audit log over either database (schema step 6): the one implementation of <see cref="IAccessStore"/>,
/// which <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. SQL is written once; <see cref="StoreDialect"/>
/// supplies the DDL types and <see cref="StoreDialect.Limit"/>. Tokens are read from the database on every request, so a revocation
/// made through one gateway instance (or the CLI, another process) holds at once on all of them.
/// </summary>
internal sealed class AccessStore(IStoreConnections db) : IAccessStore
{
    private const string TokenSelect = "SELECT id, name, role, token_sha256, created_utc_ms, created_by, revoked_utc_ms FROM api_tokens";

    /// <summary>Schema step 6 (version 5 -> 6). Same text as both stores' old arrays.</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS api_tokens (
            id              {d.AutoIdPrimaryKey},
            name            {d.Text} NOT NULL,
            role            {d.Text} NOT NULL,
            token_sha256    {d.Blob} NOT NULL UNIQUE,
            created_utc_ms  {d.Int64} NOT NULL,
            created_by      {d.Text} NOT NULL,
            revoked_utc_ms  {d.Int64}
        )
        """,
        // A name says who acts (audit log, reviewer of a label): two active tokens must not share one. Revoked names may be reused.
        "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked_utc_ms IS NULL",
        $"""
        CREATE TABLE IF NOT EXISTS audit_log (
            id           {d.AutoIdPrimaryKey},
            time_utc_ms  {d.Int64} NOT NULL,
            actor        {d.Text},
            role         {d.Text},
            method       {d.Text} NOT NULL,
            route        {d.Text} NOT NULL,
            path         {d.Text} NOT NULL,
            arguments    {d.Text},
            status       {d.Int32} NOT NULL,
            remote       {d.Text}
        )
        """,
    ];

    /// <inheritdoc />
    public long AddApiToken(string name, ApiRole role, byte[] tokenSha256, DateTimeOffset createdUtc, string createdBy)
    {
        AccessArgumentRules.ValidateToken(name, role, tokenSha256, createdBy);
        return db.Write(s => s.InTransaction(() =>
        {
            // The name is checked first, so a taken name is reported as such even when the hash is taken too (SQLite's store's order;
            // on SQLite the write transaction also keeps out the CLI, another process, until the commit).
            if (s.Query("SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = $1 AND revoked_utc_ms IS NULL)", r => r.GetBoolean(0), name)[0])
            {
                throw new InvalidOperationException(AccessArgumentRules.NameTaken(name));
            }
            // Two PostgreSQL instances can both pass the check: the partial unique index then decides, and the loser inserts nothing.
            // Only a name conflict is absorbed (the index is the conflict target); a duplicate hash stays the database's error.
            List<long> ids = s.Query(
                """
                INSERT INTO api_tokens (name, role, token_sha256, created_utc_ms, created_by) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (name) WHERE revoked_utc_ms IS NULL DO NOTHING RETURNING id
                """,
                r => r.GetInt64(0), name, role.ToString(), tokenSha256, createdUtc.ToUnixTimeMilliseconds(), createdBy);
            return ids.Count == 1 ? ids[0] : throw new InvalidOperationException(AccessArgumentRules.NameTaken(name));
        }));
    }

    /// <inheritdoc />
    public bool TryGetActiveApiToken(byte[] tokenSha256, out ApiTokenRecord? token)
    {
        ArgumentNullException.ThrowIfNull(tokenSha256);
        List<(byte[] Hash, ApiTokenRecord Record)> rows = db.Read(s => s.Query(TokenSelect + " WHERE token_sha256 = $1 AND revoked_utc_ms IS NULL",
            r => (r.GetBytes(3) ?? [], ReadToken(r)), tokenSha256));
        // The index finds the row; the constant-time check keeps the final comparison of hash bytes free of timing.
        token = rows.Count == 1 && CryptographicOperations.FixedTimeEquals(rows[0].Hash, tokenSha256) ? rows[0].Record : null;
        return token is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<ApiTokenRecord> ReadApiTokens(bool includeRevoked) =>
        // An integer flag, not a boolean parameter: SQLite has no boolean type (PostgreSQL's store bound a boolean).
        db.Read(s => s.Query(TokenSelect + " WHERE $1 = 1 OR revoked_utc_ms IS NULL ORDER BY id", ReadToken, includeRevoked ? 1 : 0));

    /// <inheritdoc />
    public bool RevokeApiToken(long id, DateTimeOffset revokedUtc) =>
        db.Write(s => s.Execute("UPDATE api_tokens SET revoked_utc_ms = $1 WHERE id = $2 AND revoked_utc_ms IS NULL", revokedUtc.ToUnixTimeMilliseconds(), id)) == 1;

    /// <inheritdoc />
    public long AppendAudit(AuditEntry entry)
    {
        AuditEntry e = AccessArgumentRules.Bounded(entry);
        return db.Write(s => s.Query(
            "INSERT INTO audit_log (time_utc_ms, actor, role, method, route, path, arguments, status, remote) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            r => r.GetInt64(0),
            e.TimeUtc.ToUnixTimeMilliseconds(), e.Actor, e.Role?.ToString(), e.Method, e.Route, e.Path, e.Arguments, e.Status, e.Remote))[0];
    }

    /// <inheritdoc />
    public IReadOnlyList<AuditRecord> ReadAudit(long? beforeId, int limit) =>
        // ($1 IS NULL ...): PostgreSQL's store wrote $1::bigint; the argument is typed bigint (StoreArg), so the cast is not needed.
        db.Read(s => s.Query(
            """
            SELECT id, time_utc_ms, actor, role, method, route, path, arguments, status, remote
            FROM audit_log WHERE $1 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2
            """,
            r => new AuditRecord(r.GetInt64(0), new AuditEntry(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetStringOrNull(2),
                ParseRole(r.GetStringOrNull(3)), r.GetString(4), r.GetString(5), r.GetString(6), r.GetStringOrNull(7), r.GetInt32(8), r.GetStringOrNull(9))),
            beforeId, s.Dialect.Limit(limit)));

    private static ApiTokenRecord ReadToken(StoreRow r) =>
        new(r.GetInt64(0), r.GetString(1), Enum.Parse<ApiRole>(r.GetString(2)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.GetString(5),
            r.IsNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));

    private static ApiRole? ParseRole(string? text) => text is null ? null : Enum.Parse<ApiRole>(text);
}

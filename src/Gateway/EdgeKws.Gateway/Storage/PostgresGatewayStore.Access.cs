using System.Security.Cryptography;
using EdgeKws.Gateway.Security;
using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>HTTP API tokens and the audit log in the PostgreSQL store (schema version 6), the same tables as
/// <see cref="SqliteGatewayStore"/>. Every instance reads tokens from the database on each request, so a revocation made
/// through one instance (or the CLI) holds at once on all of them.</summary>
public sealed partial class PostgresGatewayStore
{
    private static readonly string[] AccessDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS api_tokens (
            id              bigserial PRIMARY KEY,
            name            text NOT NULL,
            role            text NOT NULL,
            token_sha256    bytea NOT NULL UNIQUE,
            created_utc_ms  bigint NOT NULL,
            created_by      text NOT NULL,
            revoked_utc_ms  bigint
        )
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked_utc_ms IS NULL",
        """
        CREATE TABLE IF NOT EXISTS audit_log (
            id           bigserial PRIMARY KEY,
            time_utc_ms  bigint NOT NULL,
            actor        text,
            role         text,
            method       text NOT NULL,
            route        text NOT NULL,
            path         text NOT NULL,
            arguments    text,
            status       integer NOT NULL,
            remote       text
        )
        """,
    ];

    private const string TokenColumns = "id, name, role, token_sha256, created_utc_ms, created_by, revoked_utc_ms";

    /// <inheritdoc />
    public long AddApiToken(string name, ApiRole role, byte[] tokenSha256, DateTimeOffset createdUtc, string createdBy)
    {
        AccessValues.ValidateToken(name, role, tokenSha256, createdBy);
        using NpgsqlConnection db = Connection();
        // The partial unique index decides between two instances creating the same name at once: the loser inserts nothing.
        using var cmd = new NpgsqlCommand(
            "INSERT INTO api_tokens (name, role, token_sha256, created_utc_ms, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id", db);
        cmd.Parameters.AddRange(new NpgsqlParameter[] { P(name), P(role.ToString()), P(tokenSha256), P(createdUtc.ToUnixTimeMilliseconds()), P(createdBy) });
        return cmd.ExecuteScalar() is long id ? id : throw new InvalidOperationException(AccessValues.NameTaken(name));
    }

    /// <inheritdoc />
    public bool TryGetActiveApiToken(byte[] tokenSha256, out ApiTokenRecord? token)
    {
        ArgumentNullException.ThrowIfNull(tokenSha256);
        token = null;
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand($"SELECT {TokenColumns} FROM api_tokens WHERE token_sha256 = $1 AND revoked_utc_ms IS NULL", db);
        cmd.Parameters.Add(P(tokenSha256));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        // The index finds the row; the constant-time check keeps the final comparison of hash bytes free of timing.
        if (r.Read() && CryptographicOperations.FixedTimeEquals((byte[])r[3], tokenSha256))
        {
            token = ReadToken(r);
        }
        return token is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<ApiTokenRecord> ReadApiTokens(bool includeRevoked)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand($"SELECT {TokenColumns} FROM api_tokens WHERE $1 OR revoked_utc_ms IS NULL ORDER BY id", db);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Boolean, Value = includeRevoked });
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<ApiTokenRecord>();
        while (r.Read())
        {
            list.Add(ReadToken(r));
        }
        return list;
    }

    /// <inheritdoc />
    public bool RevokeApiToken(long id, DateTimeOffset revokedUtc)
    {
        using NpgsqlConnection db = Connection();
        return Run(db, null, "UPDATE api_tokens SET revoked_utc_ms = $1 WHERE id = $2 AND revoked_utc_ms IS NULL", P(revokedUtc.ToUnixTimeMilliseconds()), P(id)) == 1;
    }

    /// <inheritdoc />
    public long AppendAudit(AuditEntry entry)
    {
        AuditEntry e = AccessValues.Bounded(entry);
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            "INSERT INTO audit_log (time_utc_ms, actor, role, method, route, path, arguments, status, remote) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id", db);
        cmd.Parameters.AddRange(new NpgsqlParameter[] { P(e.TimeUtc.ToUnixTimeMilliseconds()), P(e.Actor), P(e.Role?.ToString()), P(e.Method), P(e.Route), P(e.Path), P(e.Arguments), P(e.Status), P(e.Remote) });
        return (long)cmd.ExecuteScalar()!;
    }

    /// <inheritdoc />
    public IReadOnlyList<AuditRecord> ReadAudit(long? beforeId, int limit)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT id, time_utc_ms, actor, role, method, route, path, arguments, status, remote
            FROM audit_log WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT $2
            """, db);
        cmd.Parameters.AddRange(new NpgsqlParameter[] { P(beforeId), Limit(limit) });
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<AuditRecord>();
        while (r.Read())
        {
            list.Add(new AuditRecord(r.GetInt64(0), new AuditEntry(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), Text(r, 2),
                AccessValues.ParseRole(Text(r, 3)), r.GetString(4), r.GetString(5), r.GetString(6), Text(r, 7), r.GetInt32(8), Text(r, 9))));
        }
        return list;
    }

    private static ApiTokenRecord ReadToken(NpgsqlDataReader r) =>
        new(r.GetInt64(0), r.GetString(1), Enum.Parse<ApiRole>(r.GetString(2)), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.GetString(5),
            r.IsDBNull(6) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(6)));
}

using System.Security.Cryptography;
using EdgeKws.Gateway.Security;

namespace EdgeKws.Gateway.Storage;

/// <summary>HTTP API tokens and the audit log in the SQLite store (schema version 6).</summary>
public sealed partial class SqliteGatewayStore
{
    private static readonly string[] AccessDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS api_tokens (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            name            TEXT NOT NULL,
            role            TEXT NOT NULL,
            token_sha256    BLOB NOT NULL UNIQUE,
            created_utc_ms  INTEGER NOT NULL,
            created_by      TEXT NOT NULL,
            revoked_utc_ms  INTEGER
        )
        """,
        // A name says who acts (audit log, reviewer of a label): two active tokens must not share one. Revoked names may be reused.
        "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked_utc_ms IS NULL",
        """
        CREATE TABLE IF NOT EXISTS audit_log (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            time_utc_ms  INTEGER NOT NULL,
            actor        TEXT,
            role         TEXT,
            method       TEXT NOT NULL,
            route        TEXT NOT NULL,
            path         TEXT NOT NULL,
            arguments    TEXT,
            status       INTEGER NOT NULL,
            remote       TEXT
        )
        """,
    ];

    /// <inheritdoc />
    public long AddApiToken(string name, ApiRole role, byte[] tokenSha256, DateTimeOffset createdUtc, string createdBy)
    {
        AccessValues.ValidateToken(name, role, tokenSha256, createdBy);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                if (_writer.ExecuteScalar<long>("SELECT count(*) FROM api_tokens WHERE name = ? AND revoked_utc_ms IS NULL", name) > 0)
                {
                    throw new InvalidOperationException(AccessValues.NameTaken(name));
                }
                _writer.Execute("INSERT INTO api_tokens (name, role, token_sha256, created_utc_ms, created_by) VALUES (?, ?, ?, ?, ?)",
                    name, role.ToString(), tokenSha256, createdUtc.ToUnixTimeMilliseconds(), createdBy);
                long id = _writer.ExecuteScalar<long>("SELECT last_insert_rowid()");
                _writer.Execute("COMMIT");
                return id;
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public bool TryGetActiveApiToken(byte[] tokenSha256, out ApiTokenRecord? token)
    {
        ArgumentNullException.ThrowIfNull(tokenSha256);
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<TokenRow> rows = _reader.Query<TokenRow>(TokenSelect + " WHERE token_sha256 = ? AND revoked_utc_ms IS NULL", tokenSha256);
            // The index finds the row; the constant-time check keeps the final comparison of hash bytes free of timing.
            token = rows.Count == 1 && CryptographicOperations.FixedTimeEquals(rows[0].Hash, tokenSha256) ? rows[0].ToRecord() : null;
            return token is not null;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ApiTokenRecord> ReadApiTokens(bool includeRevoked)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<TokenRow>(TokenSelect + " WHERE ?1 = 1 OR revoked_utc_ms IS NULL ORDER BY id", includeRevoked ? 1 : 0)
                .Select(r => r.ToRecord()).ToList();
        }
    }

    /// <inheritdoc />
    public bool RevokeApiToken(long id, DateTimeOffset revokedUtc)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _writer.Execute("UPDATE api_tokens SET revoked_utc_ms = ? WHERE id = ? AND revoked_utc_ms IS NULL", revokedUtc.ToUnixTimeMilliseconds(), id) == 1;
        }
    }

    /// <inheritdoc />
    public long AppendAudit(AuditEntry entry)
    {
        AuditEntry e = AccessValues.Bounded(entry);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("INSERT INTO audit_log (time_utc_ms, actor, role, method, route, path, arguments, status, remote) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                e.TimeUtc.ToUnixTimeMilliseconds(), e.Actor, e.Role?.ToString(), e.Method, e.Route, e.Path, e.Arguments, e.Status, e.Remote);
            return _writer.ExecuteScalar<long>("SELECT last_insert_rowid()");
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<AuditRecord> ReadAudit(long? beforeId, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<AuditRow>(
                    """
                    SELECT id AS Id, time_utc_ms AS Time, actor AS Actor, role AS Role, method AS Method, route AS Route, path AS Path,
                           arguments AS Arguments, status AS Status, remote AS Remote
                    FROM audit_log WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2
                    """, beforeId, limit)
                .Select(r => new AuditRecord(r.Id, new AuditEntry(DateTimeOffset.FromUnixTimeMilliseconds(r.Time), r.Actor, AccessValues.ParseRole(r.Role),
                    r.Method, r.Route, r.Path, r.Arguments, r.Status, r.Remote)))
                .ToList();
        }
    }

    private const string TokenSelect =
        "SELECT id AS Id, name AS Name, role AS Role, token_sha256 AS Hash, created_utc_ms AS Created, created_by AS CreatedBy, revoked_utc_ms AS Revoked FROM api_tokens";

    private sealed class TokenRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = string.Empty;
        public string Role { get; set; } = string.Empty;
        public byte[] Hash { get; set; } = [];
        public long Created { get; set; }
        public string CreatedBy { get; set; } = string.Empty;
        public long? Revoked { get; set; }

        public ApiTokenRecord ToRecord() => new(Id, Name, Enum.Parse<ApiRole>(Role), DateTimeOffset.FromUnixTimeMilliseconds(Created), CreatedBy,
            Revoked is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null);
    }

    private sealed class AuditRow
    {
        public long Id { get; set; }
        public long Time { get; set; }
        public string? Actor { get; set; }
        public string? Role { get; set; }
        public string Method { get; set; } = string.Empty;
        public string Route { get; set; } = string.Empty;
        public string Path { get; set; } = string.Empty;
        public string? Arguments { get; set; }
        public int Status { get; set; }
        public string? Remote { get; set; }
    }
}

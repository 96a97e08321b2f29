using System.Text;
using EdgeKws.Gateway.Configuration;
using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The PostgreSQL store, shared by several gateway instances (each behind the same shared MQTT subscription): its schema and its
/// connections, which it lends to the concerns written once for both databases (<see cref="ConcernStores"/>). Same contract and
/// tables as <see cref="SqliteGatewayStore"/>; how a batch stays idempotent and deadlock-free across instances is
/// <see cref="IngestStore"/>'s and <see cref="LedgeredInsert"/>'s.
/// <para>The ingest writer keeps one connection (<see cref="IStoreConnections.Ingest{T}"/>), replaced after it broke; every other call
/// takes a pooled one. Durability <see cref="StoreDurability.Full"/> keeps <c>synchronous_commit = on</c> on the ingest connection
/// (the commit is flushed to the WAL on disk before it returns); <see cref="StoreDurability.Normal"/> sets it off for that session
/// (a gateway crash loses nothing, a PostgreSQL crash may lose the last commits).</para>
/// </summary>
public sealed partial class PostgresGatewayStore : ConcernStores, IGatewayStore
{
    /// <summary>Schema version in <c>schema_info</c> (the steps are <see cref="StoreSchema"/>'s, as <see cref="SqliteGatewayStore.SchemaVersion"/>).</summary>
    public const int SchemaVersion = StoreSchema.Version;

    // Serialises schema creation when several instances start at once (an arbitrary constant key).
    private const long SchemaLockKey = 0x45444745_4B575331;

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _synchronousCommit;
    private readonly Lock _writeLock = new();
    private NpgsqlConnection? _writer;
    private bool _disposed;

    private PostgresGatewayStore(NpgsqlDataSource dataSource, bool synchronousCommit, int quarantineMaxPayloadBytes)
    {
        _dataSource = dataSource;
        _synchronousCommit = synchronousCommit;
        InitializeConcerns(new Connections(this), quarantineMaxPayloadBytes);
    }

    /// <summary>Connects, creates or migrates the schema, and returns the store.</summary>
    /// <exception cref="InvalidOperationException">When the database cannot be reached or has a newer schema than this build knows.</exception>
    public static PostgresGatewayStore Open(StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new ArgumentException("Gateway:Store:ConnectionString is required for the PostgreSQL store");
        }
        var csb = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (csb.MaxAutoPrepare == 0)
        {
            // The same few INSERT texts run for every message: let Npgsql prepare them once per connection.
            csb.MaxAutoPrepare = 32;
        }
        NpgsqlDataSource dataSource = NpgsqlDataSource.Create(csb);
        var store = new PostgresGatewayStore(dataSource, options.Durability == StoreDurability.Full, options.QuarantineMaxPayloadBytes);
        try
        {
            using NpgsqlConnection db = store.OpenConnection($"{csb.Host}:{csb.Port}/{csb.Database}");
            CreateSchema(db);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private NpgsqlConnection OpenConnection(string? describe = null)
    {
        try
        {
            return _dataSource.OpenConnection();
        }
        catch (NpgsqlException ex)
        {
            throw new InvalidOperationException($"cannot connect to the gateway's PostgreSQL database {describe}: {ex.Message}", ex);
        }
    }

    private static void CreateSchema(NpgsqlConnection db)
    {
        using NpgsqlTransaction tx = db.BeginTransaction();
        Exec(db, tx, $"SELECT pg_advisory_xact_lock({SchemaLockKey})");
        Exec(db, tx, "CREATE TABLE IF NOT EXISTS schema_info (version integer NOT NULL)");
        int version;
        using (var cmd = new NpgsqlCommand("SELECT max(version) FROM schema_info", db, tx))
        {
            version = cmd.ExecuteScalar() is int v ? v : 0;
        }
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"gateway PostgreSQL database '{db.Database}' has schema {version}; this build knows up to {SchemaVersion}");
        }
        if (version == SchemaVersion)
        {
            tx.Commit();
            return;
        }
        // All steps in this transaction under the lock: instances starting together migrate once, and a failed step leaves the
        // previous version intact.
        string[] steps = StoreSchema.Steps(StoreDialect.Postgres, version);
        foreach (string ddl in steps)
        {
            Exec(db, tx, ddl);
        }
        Exec(db, tx, "DELETE FROM schema_info");
        Exec(db, tx, $"INSERT INTO schema_info (version) VALUES ({SchemaVersion})");
        tx.Commit();
    }

    private static void Exec(NpgsqlConnection db, NpgsqlTransaction? tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, db, tx);
        cmd.ExecuteNonQuery();
    }

    private void DropWriter()
    {
        if (_writer is { State: not System.Data.ConnectionState.Open })
        {
            _writer.Dispose();
            _writer = null;
        }
    }

    private NpgsqlConnection Writer()
    {
        if (_writer is null)
        {
            _writer = OpenConnection();
            if (!_synchronousCommit)
            {
                Exec(_writer, null, "SET synchronous_commit = off");
            }
        }
        return _writer;
    }

    /// <summary>PostgreSQL text cannot hold U+0000 and must be valid UTF-8; a quarantined topic or reason from a fuzzed
    /// message may contain either. Such characters become U+FFFD (the raw bytes stay intact in the payload column).</summary>
    internal static string PgText(string value)
    {
        if (!value.Contains('\0', StringComparison.Ordinal) && value.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                sb.Append(c).Append(value[++i]);
            }
            else if (c == '\0' || char.IsSurrogate(c))
            {
                sb.Append('\uFFFD');
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _writer?.Dispose();
            _writer = null;
            _dataSource.Dispose();
        }
    }
}

using EdgeKws.Gateway.Configuration;
using SQLite;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The SQLite store: one file in WAL mode, its schema, and its two connections, which it lends to the concerns written once for
/// both databases (<see cref="ConcernStores"/>; the ingest itself is <see cref="IngestStore"/>): the writer (every write, the
/// ingest batches among them, under <see cref="_writeLock"/>) and a reader (under its own lock), so API reads never wait for a
/// batch commit (WAL readers see the last committed state).
/// <para>Blobs (clip frames, quarantined payloads) live in the database, not in files: one transaction then
/// covers the row and its bytes, so the idempotency and kill-safety guarantees need no two-phase file protocol.
/// Clips are at most 320 KB; the retention service deletes old audio rows and incremental vacuum returns the pages.</para>
/// </summary>
public sealed partial class SqliteGatewayStore : ConcernStores, IGatewayStore
{
    /// <summary>Schema version in <c>PRAGMA user_version</c> (the steps are <see cref="StoreSchema"/>'s).</summary>
    public const int SchemaVersion = StoreSchema.Version;

    /// <summary>Longest label source text (kept here for callers of this store; the rule is <see cref="MonitoringArgumentRules"/>'s).</summary>
    public const int MaxLabelSourceLength = MonitoringArgumentRules.MaxLabelSourceLength;

    /// <summary>Longest cohort name (kept here for callers of this store; the rule is <see cref="MonitoringArgumentRules"/>'s).</summary>
    public const int MaxCohortLength = MonitoringArgumentRules.MaxCohortLength;

    private readonly SQLiteConnection _writer;
    private readonly SQLiteConnection _reader;
    private readonly Lock _writeLock = new();
    private readonly Lock _readLock = new();
    private readonly Connections _connections;
    private bool _disposed;

    private SqliteGatewayStore(SQLiteConnection writer, SQLiteConnection reader, int quarantineMaxPayloadBytes)
    {
        _writer = writer;
        _reader = reader;
        DatabasePath = writer.DatabasePath;
        _connections = new Connections(this);
        InitializeConcerns(_connections, quarantineMaxPayloadBytes);
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Opens (creating if needed) the database at <see cref="StoreOptions.DatabasePath"/>.</summary>
    /// <exception cref="InvalidOperationException">When the file has a newer schema than this build knows.</exception>
    public static SqliteGatewayStore Open(StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string path = Path.GetFullPath(options.DatabasePath);
        string? directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var writer = new SQLiteConnection(new SQLiteConnectionString(path,
            SQLiteOpenFlags.ReadWrite | SQLiteOpenFlags.Create | SQLiteOpenFlags.NoMutex, storeDateTimeAsTicks: true));
        SQLiteConnection? reader = null;
        try
        {
            writer.BusyTimeout = TimeSpan.FromSeconds(10);
            // auto_vacuum must be set before the first table exists; it is a no-op on an existing file.
            writer.Execute("PRAGMA auto_vacuum = INCREMENTAL");
            string mode = writer.ExecuteScalar<string>("PRAGMA journal_mode = WAL");
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"gateway database '{path}' could not switch to WAL (journal_mode is '{mode}')");
            }
            writer.Execute(options.Durability == StoreDurability.Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
            CreateSchema(writer, path);

            reader = new SQLiteConnection(new SQLiteConnectionString(path,
                SQLiteOpenFlags.ReadOnly | SQLiteOpenFlags.NoMutex, storeDateTimeAsTicks: true));
            reader.BusyTimeout = TimeSpan.FromSeconds(10);
            return new SqliteGatewayStore(writer, reader, options.QuarantineMaxPayloadBytes);
        }
        catch
        {
            reader?.Dispose();
            writer.Dispose();
            throw;
        }
    }

    private static void CreateSchema(SQLiteConnection db, string path)
    {
        int version = db.ExecuteScalar<int>("PRAGMA user_version");
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"gateway database '{path}' has schema {version}; this build knows up to {SchemaVersion}");
        }
        if (version == SchemaVersion)
        {
            return;
        }
        db.Execute("BEGIN IMMEDIATE");
        try
        {
            string[] ddls = StoreSchema.Steps(StoreDialect.Sqlite, version);
            foreach (string ddl in ddls)
            {
                if (!AddsExistingColumn(db, ddl))
                {
                    db.Execute(ddl);
                }
            }
            db.Execute($"PRAGMA user_version = {SchemaVersion}");
            db.Execute("COMMIT");
        }
        catch
        {
            db.Execute("ROLLBACK");
            throw;
        }
    }

    /// <summary>
    /// SQLite has no <c>ADD COLUMN IF NOT EXISTS</c>: an <c>ALTER TABLE t ADD COLUMN c ...</c> whose column exists is
    /// skipped, so every step is idempotent like PostgreSQL's (a step renumbered in a merge, or re-run on a file whose
    /// version was set back, cannot fail on a column it already added).
    /// </summary>
    private static bool AddsExistingColumn(SQLiteConnection db, string ddl)
    {
        string[] words = ddl.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 6 || !words[0].Equals("ALTER", StringComparison.OrdinalIgnoreCase) || !words[3].Equals("ADD", StringComparison.OrdinalIgnoreCase)
            || !words[4].Equals("COLUMN", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        return db.ExecuteScalar<int>($"SELECT COUNT(*) FROM pragma_table_info('{words[2]}') WHERE name = ?", words[5]) > 0;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_writeLock)
        {
            lock (_readLock)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                // The sessions' kept statements first: they belong to the connections.
                _connections.Dispose();
                _reader.Dispose();
                _writer.Dispose();
            }
        }
    }
}

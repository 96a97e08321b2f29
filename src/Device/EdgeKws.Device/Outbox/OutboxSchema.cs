using System.Globalization;
using System.Security.Cryptography;
using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// The outbox file's settings and schema: how the connection is configured (exclusive locking, WAL, full fsync), the
/// tables, and the migrations from schema 1 and 2 (docs/outbox.md).
/// </summary>
internal static class OutboxSchema
{
    /// <summary>The schema this build writes; it reads and migrates 1 to this.</summary>
    public const long Version = 3;

    /// <summary>Exclusive locking, WAL, <c>synchronous = FULL</c>, no automatic checkpoint; then <c>integrity_check</c>: null when "ok".</summary>
    public static void ConfigureAndCheck(sqlite3 db, out string? integrityProblem)
    {
        // Exclusive locking before WAL: one process owns the outbox, and the WAL index lives in
        // heap memory instead of a -shm file (one less file to go stale after a kill, and none to count).
        SqliteStatement.QueryTexts(db, "PRAGMA locking_mode = EXCLUSIVE");
        var mode = SqliteStatement.QueryTexts(db, "PRAGMA journal_mode = WAL");
        if (mode.Count != 1 || !string.Equals(mode[0], "wal", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"The outbox needs WAL journaling but SQLite kept journal_mode '{string.Join(",", mode)}' (unsupported filesystem?).");

        // Durability: synchronous = FULL. In WAL mode, FULL fsyncs the WAL at every commit, so a
        // transaction that has committed (Enqueue returned) survives power loss. NORMAL would only
        // fsync at checkpoints: still never corrupt, but the last commits before a power cut could
        // vanish, i.e. an acknowledged enqueue (and its sequence number) could be lost and the
        // number reused. EXTRA adds nothing in WAL mode (it only syncs the directory after a
        // rollback journal is unlinked). The cost is one fsync per enqueue/ack batch, which a
        // detector firing a few times an hour never notices (figures in docs/outbox.md).
        SqliteStatement.QueryTexts(db, "PRAGMA synchronous = FULL");
        // The store checkpoints and truncates the WAL itself after commits (see AfterCommit), at a threshold derived
        // from the quota; SQLite's own automatic checkpoint (1000 pages, 4 MB) would let it outgrow a small quota.
        SqliteStatement.QueryTexts(db, "PRAGMA wal_autocheckpoint = 0");
        var check = SqliteStatement.QueryTexts(db, "PRAGMA integrity_check(20)");
        integrityProblem = check.Count == 1 && check[0] == "ok" ? null : string.Join("; ", check);
    }

    /// <summary>Creates the tables of a new file (at version 1) and migrates a version 1 or 2 file to <see cref="Version"/>, in one
    /// transaction. Throws <see cref="InvalidOperationException"/> for a version this build does not know.</summary>
    public static void CreateOrMigrate(sqlite3 db, long firstSequence, string databasePath)
    {
        SqliteStatement.QueryTexts(db, "BEGIN IMMEDIATE");
        try
        {
            SqliteStatement.QueryTexts(db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID");
            SqliteStatement.QueryTexts(db, """
                CREATE TABLE IF NOT EXISTS messages(
                    seq            INTEGER PRIMARY KEY NOT NULL,
                    class          INTEGER NOT NULL,
                    topic          TEXT    NOT NULL,
                    payload        BLOB    NOT NULL,
                    created_utc_ms INTEGER NOT NULL,
                    expires_utc_ms INTEGER NOT NULL,
                    size_bytes     INTEGER NOT NULL,
                    attempts       INTEGER NOT NULL DEFAULT 0)
                """);
            SqliteStatement.QueryTexts(db, "CREATE INDEX IF NOT EXISTS ix_messages_class_seq ON messages(class, seq)");
            SqliteStatement.QueryTexts(db, "CREATE INDEX IF NOT EXISTS ix_messages_expires ON messages(expires_utc_ms)");
            SqliteStatement.QueryTexts(db, """
                CREATE TABLE IF NOT EXISTS class_counters(
                    class         INTEGER PRIMARY KEY NOT NULL,
                    evicted_count INTEGER NOT NULL DEFAULT 0,
                    evicted_bytes INTEGER NOT NULL DEFAULT 0,
                    expired_count INTEGER NOT NULL DEFAULT 0,
                    expired_bytes INTEGER NOT NULL DEFAULT 0,
                    refused_count INTEGER NOT NULL DEFAULT 0)
                """);
            // A new file is created at version 1 and migrated below like any version 1 file.
            SqliteStatement.QueryTexts(db, $"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', 1), ('next_seq', {firstSequence.ToString(CultureInfo.InvariantCulture)})");
            foreach (var cls in OutboxPolicy.AllClasses)
                SqliteStatement.QueryTexts(db, $"INSERT OR IGNORE INTO class_counters(class) VALUES ({(int)cls})");

            long found = SqliteStatement.QueryInt64(db, "SELECT value FROM meta WHERE key = 'schema_version'") ?? -1;
            if (found == 1)
            {
                // Schema 2: written/failed/dropped per class and the device totals with their epoch. The older counters
                // (evicted, expired, refused) keep their values; the new ones start at zero under a new epoch.
                SqliteStatement.QueryTexts(db, "ALTER TABLE class_counters ADD COLUMN written_count INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(db, "ALTER TABLE class_counters ADD COLUMN failed_count INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(db, "ALTER TABLE class_counters ADD COLUMN dropped_count INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(db, """
                    CREATE TABLE device_totals(
                        id                INTEGER PRIMARY KEY CHECK (id = 1),
                        listening_seconds REAL    NOT NULL DEFAULT 0,
                        detections        INTEGER NOT NULL DEFAULT 0,
                        audio_overruns    INTEGER NOT NULL DEFAULT 0)
                    """);
                SqliteStatement.QueryTexts(db, "INSERT INTO device_totals(id) VALUES (1)");
                long epoch = RandomNumberGenerator.GetInt32(1, int.MaxValue) * (long)int.MaxValue + RandomNumberGenerator.GetInt32(0, int.MaxValue);
                SqliteStatement.QueryTexts(db, $"INSERT OR REPLACE INTO meta(key, value) VALUES ('totals_epoch', {epoch.ToString(CultureInfo.InvariantCulture)})");
                SqliteStatement.QueryTexts(db, "UPDATE meta SET value = 2 WHERE key = 'schema_version'");
                found = 2;
            }
            if (found == 2)
            {
                // Schema 3: the NearMiss class (8) and the near-miss totals. A build that knows only schema 2 refuses the file
                // instead of taking class 8 rows for corruption and moving the store aside.
                SqliteStatement.QueryTexts(db, "ALTER TABLE device_totals ADD COLUMN near_misses INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(db, "ALTER TABLE device_totals ADD COLUMN near_misses_rate_limited INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(db, $"UPDATE meta SET value = {Version} WHERE key = 'schema_version'");
                found = Version;
            }
            if (found != Version)
                throw new InvalidOperationException($"The outbox database '{databasePath}' has schema version {found}; this build reads versions 1 to {Version}. Refusing to touch it.");
            SqliteStatement.QueryTexts(db, "COMMIT");
        }
        catch
        {
            if (raw.sqlite3_get_autocommit(db) == 0)
                SqliteStatement.QueryTexts(db, "ROLLBACK");
            throw;
        }
    }
}

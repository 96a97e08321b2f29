namespace EdgeKws.Gateway.Storage;

/// <summary>
/// What differs between SQLite and PostgreSQL for the store's concern classes (<see cref="GovernanceStore"/>, ...), and nothing
/// else: those classes write their SQL and logic once and ask the dialect only here. See docs/gateway.md, "Store layout".
/// </summary>
/// <remarks>
/// What both already speak, so it is not here: <c>$1, $2, ...</c> parameters (PostgreSQL's positional parameters; SQLite
/// reads <c>$1</c> as a parameter named "$1", which <see cref="SqliteStoreSession"/> binds by name), <c>INSERT ... ON CONFLICT
/// DO NOTHING / DO UPDATE SET x = excluded.x</c> and <c>RETURNING</c> (SQLite 3.24 and 3.35; the bundled SQLite is 3.53).
/// What the session hides: parameter types (<see cref="StoreArg"/>), transactions (<see cref="StoreSession.InTransaction{T}"/>),
/// and which connection a call gets (<see cref="IStoreConnections"/>).
/// </remarks>
internal sealed class StoreDialect
{
    /// <summary>SQLite: one writer connection, so a write transaction (<c>BEGIN IMMEDIATE</c>) already excludes every other writer.</summary>
    public static readonly StoreDialect Sqlite = new(
        name: "sqlite", text: "TEXT", int64: "INTEGER", int32: "INTEGER", real: "REAL", blob: "BLOB",
        autoIdPrimaryKey: "INTEGER PRIMARY KEY AUTOINCREMENT", identityPrimaryKey: "INTEGER PRIMARY KEY AUTOINCREMENT", binaryOrder: string.Empty, withoutRowId: " WITHOUT ROWID", rowLocks: false, dataModifyingCte: false, negativeLimitIsNull: false, reclaimsFreedPages: true, addColumnIfNotExists: false);

    /// <summary>PostgreSQL: several gateway instances, READ COMMITTED transactions, row locks where two instances could race.</summary>
    public static readonly StoreDialect Postgres = new(
        name: "postgres", text: "text", int64: "bigint", int32: "integer", real: "double precision", blob: "bytea",
        autoIdPrimaryKey: "bigserial PRIMARY KEY", identityPrimaryKey: "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", binaryOrder: " COLLATE \"C\"", withoutRowId: string.Empty, rowLocks: true, dataModifyingCte: true, negativeLimitIsNull: true, reclaimsFreedPages: false, addColumnIfNotExists: true);

    private readonly bool _rowLocks;
    private readonly bool _dataModifyingCte;
    private readonly bool _negativeLimitIsNull;
    private readonly bool _reclaimsFreedPages;
    private readonly bool _addColumnIfNotExists;

    private StoreDialect(string name, string text, string int64, string int32, string real, string blob, string autoIdPrimaryKey, string identityPrimaryKey, string binaryOrder, string withoutRowId,
        bool rowLocks, bool dataModifyingCte, bool negativeLimitIsNull, bool reclaimsFreedPages, bool addColumnIfNotExists)
    {
        Name = name;
        Text = text;
        Int64 = int64;
        Int32 = int32;
        Real = real;
        Blob = blob;
        AutoIdPrimaryKey = autoIdPrimaryKey;
        IdentityPrimaryKey = identityPrimaryKey;
        BinaryOrder = binaryOrder;
        WithoutRowId = withoutRowId;
        _rowLocks = rowLocks;
        _dataModifyingCte = dataModifyingCte;
        _negativeLimitIsNull = negativeLimitIsNull;
        _reclaimsFreedPages = reclaimsFreedPages;
        _addColumnIfNotExists = addColumnIfNotExists;
    }

    /// <summary>"sqlite" or "postgres".</summary>
    public string Name { get; }

    // Column types for DDL. SQLite's are its affinity names, PostgreSQL's the exact types; both stores have always used these.

    /// <summary>Text column type.</summary>
    public string Text { get; }

    /// <summary>64-bit integer column type (times in Unix ms, counts, ids).</summary>
    public string Int64 { get; }

    /// <summary>32-bit integer column type (SQLite has one integer type).</summary>
    public string Int32 { get; }

    /// <summary>Double-precision column type.</summary>
    public string Real { get; }

    /// <summary>Byte-array column type.</summary>
    public string Blob { get; }

    /// <summary>A 64-bit id the database assigns on insert (read it back with <c>RETURNING id</c>). SQLite's AUTOINCREMENT never
    /// reuses the id of a deleted last row; bigserial never goes back either.</summary>
    public string AutoIdPrimaryKey { get; }

    /// <summary>The same as <see cref="AutoIdPrimaryKey"/> for the tables whose PostgreSQL DDL has always said it as an identity column
    /// (<c>evaluations</c>, <c>alerts</c>, <c>quarantine</c>): kept so the schema text does not change. The difference, refusing an
    /// explicit id on insert, never shows: the store never inserts one.</summary>
    public string IdentityPrimaryKey { get; }

    /// <summary>Appended to a text column in ORDER BY so both databases order by code point: SQLite's default BINARY collation
    /// already does; PostgreSQL's default follows the database's locale, so it needs <c>COLLATE "C"</c>.</summary>
    public string BinaryOrder { get; }

    /// <summary>Appended to the CREATE TABLE of a table read and written only by its primary key (the ledger <c>messages</c>): SQLite
    /// then stores the table as the key's B-tree alone, without a rowid B-tree beside it (<c>WITHOUT ROWID</c>); PostgreSQL has no such
    /// option (its heap and primary-key index are what they are), so nothing.</summary>
    public string WithoutRowId { get; }

    /// <summary>
    /// How one sequenced message is stored into <paramref name="table"/> (<paramref name="columns"/>, comma-separated, its key
    /// <c>device_id, seq</c> first) together with its ledger row in <c>messages</c>, the typed row only when the ledger row is new. See
    /// <see cref="Storage.LedgeredInsert"/>: PostgreSQL one statement (a data-modifying CTE), SQLite two.
    /// </summary>
    public LedgeredInsert LedgeredInsert(string table, string columns) => new(table, columns, _dataModifyingCte);

    /// <summary>An idempotent migration step that adds a nullable column. PostgreSQL says so itself (<c>IF NOT EXISTS</c>); SQLite
    /// has no such clause, and its schema runner skips an <c>ALTER TABLE t ADD COLUMN c</c> whose column exists.</summary>
    public string AddColumn(string table, string column, string type) =>
        _addColumnIfNotExists ? $"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type}" : $"ALTER TABLE {table} ADD COLUMN {column} {type}";

    /// <summary>A LIMIT argument where a negative <paramref name="limit"/> means "no limit": SQLite reads a negative LIMIT that
    /// way; PostgreSQL refuses it but reads LIMIT NULL that way.</summary>
    public StoreArg Limit(int limit) => _negativeLimitIsNull && limit < 0 ? StoreArg.Null(StoreArgType.Int64) : (long)limit;

    /// <summary>Appended to a SELECT inside a write transaction whose rows the transaction reads and must lock until the commit (so two
    /// gateway instances deciding the same row run one after the other): PostgreSQL <c>FOR UPDATE</c>; SQLite nothing, its write
    /// transaction (<c>BEGIN IMMEDIATE</c> on the one writer connection) already holds the database's write lock. For a locked row
    /// whose values are needed; <see cref="LockRows"/> when they are not.</summary>
    public string ForUpdate => _rowLocks ? " FOR UPDATE" : string.Empty;

    /// <summary>
    /// Inside a write transaction, locks the rows <paramref name="selectSql"/> finds until the commit, so two gateway instances doing
    /// the same thing run one after the other. PostgreSQL: the SELECT with <c>FOR UPDATE</c>. SQLite: nothing to do (and no
    /// statement runs), because its write transaction is <c>BEGIN IMMEDIATE</c> on the store's one writer connection: it already
    /// holds the database's write lock, which is stronger than any row lock.
    /// </summary>
    public void LockRows(StoreSession session, string selectSql, params StoreArg[] args)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_rowLocks)
        {
            session.Execute(selectSql + " FOR UPDATE", args);
        }
    }

    /// <summary>
    /// Inside a write transaction, makes the transactions that call this with the same <paramref name="lockKey"/> run one after the
    /// other until the commit, where there is no one row to lock (such as "which alerts are active"). PostgreSQL: the transaction
    /// advisory lock <c>pg_advisory_xact_lock(key)</c>, so two gateway instances doing the same thing see each other's rows (READ
    /// COMMITTED: every statement after the lock takes a fresh snapshot). SQLite: nothing to do (and no statement runs), for the
    /// reason of <see cref="LockRows"/>.
    /// </summary>
    public void LockTransaction(StoreSession session, long lockKey)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_rowLocks)
        {
            session.Execute("SELECT pg_advisory_xact_lock($1)", lockKey);
        }
    }

    /// <summary>
    /// After deleting many rows (outside any transaction): SQLite runs <c>PRAGMA incremental_vacuum</c> (the file is
    /// <c>auto_vacuum = INCREMENTAL</c>) to hand freed pages back to the file system; PostgreSQL leaves it to autovacuum.
    /// </summary>
    /// <remarks>
    /// Kept exactly as the SQLite store has always run it (sqlite-net's <c>ExecuteScalar</c>): ONE step of the pragma. The pragma
    /// returns a row per page it frees, so one step frees one page, not the whole free list (found while moving this code; the
    /// fix, stepping to the end, is a behaviour change left to its own commit).
    /// </remarks>
    public void ReclaimFreedPages(StoreSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_reclaimsFreedPages)
        {
            ((SqliteStoreSession)session).ExecuteFirstStep("PRAGMA incremental_vacuum");
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}

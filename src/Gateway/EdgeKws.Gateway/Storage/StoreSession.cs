namespace EdgeKws.Gateway.Storage;

/// <summary>The type of a <see cref="StoreArg"/>: PostgreSQL needs it for a null; SQLite binds by value.</summary>
internal enum StoreArgType
{
    /// <summary>text (PostgreSQL: NUL and lone surrogates become U+FFFD, see <see cref="PostgresGatewayStore.PgText"/>).</summary>
    Text,

    /// <summary>bigint.</summary>
    Int64,

    /// <summary>integer.</summary>
    Int32,

    /// <summary>double precision.</summary>
    Double,

    /// <summary>bytea / BLOB.</summary>
    Blob,
}

/// <summary>One typed SQL argument (<c>$1</c>, <c>$2</c>, ... in argument order). Converts implicitly from the CLR types the store
/// binds, so a call reads <c>s.Execute(sql, deviceId, nowMs)</c>; a null keeps its type.</summary>
internal readonly record struct StoreArg(object? Value, StoreArgType Type)
{
    public static StoreArg Null(StoreArgType type) => new(null, type);

    public static implicit operator StoreArg(string? value) => new(value, StoreArgType.Text);

    public static implicit operator StoreArg(long value) => new(value, StoreArgType.Int64);

    public static implicit operator StoreArg(long? value) => new(value, StoreArgType.Int64);

    public static implicit operator StoreArg(int value) => new(value, StoreArgType.Int32);

    public static implicit operator StoreArg(double value) => new(value, StoreArgType.Double);

    public static implicit operator StoreArg(double? value) => new(value, StoreArgType.Double);

    public static implicit operator StoreArg(byte[]? value) => new(value, StoreArgType.Blob);
}

/// <summary>One statement of a <see cref="StoreSession.ExecuteBatch"/>: its SQL and its arguments (<c>$1</c>, <c>$2</c>, ...).</summary>
internal readonly record struct StoreStatement(string Sql, StoreArg[] Args);

/// <summary>The current row of a <see cref="StoreSession.Query{T}"/>, read by column position. Valid only inside the map call.</summary>
internal abstract class StoreRow
{
    public abstract bool IsNull(int ordinal);

    public abstract string GetString(int ordinal);

    public abstract long GetInt64(int ordinal);

    public abstract int GetInt32(int ordinal);

    public abstract double GetDouble(int ordinal);

    /// <summary>A truth value, such as an <c>EXISTS (...)</c> column: PostgreSQL's boolean; SQLite has none and answers 0 or 1.</summary>
    public abstract bool GetBoolean(int ordinal);

    /// <summary>The bytes of a blob column, or null for SQL NULL.</summary>
    public abstract byte[]? GetBytes(int ordinal);

    public string? GetStringOrNull(int ordinal) => IsNull(ordinal) ? null : GetString(ordinal);
}

/// <summary>
/// One open connection as a concern class sees it (and the transaction on it, inside <see cref="InTransaction{T}"/>). Obtained
/// from <see cref="IStoreConnections"/>, used by one thread for one store call, never kept.
/// </summary>
internal abstract class StoreSession
{
    public abstract StoreDialect Dialect { get; }

    /// <summary>Runs a statement to its end; returns the rows it inserted, updated or deleted.</summary>
    public abstract int Execute(string sql, params StoreArg[] args);

    /// <summary>
    /// Runs <paramref name="statements"/> in order (inside <see cref="InTransaction{T}"/>: a failure rolls back all of them with the
    /// transaction) and returns, per statement, the rows it inserted, updated or deleted. PostgreSQL sends them as one
    /// <c>NpgsqlBatch</c>, one round trip for all; SQLite runs them one after another on its connection, in-process, where a round
    /// trip costs nothing.
    /// </summary>
    public abstract int[] ExecuteBatch(IReadOnlyList<StoreStatement> statements);

    /// <summary>Maps every row of a query.</summary>
    public abstract List<T> Query<T>(string sql, Func<StoreRow, T> map, params StoreArg[] args);

    /// <summary>
    /// Runs <paramref name="work"/> in one write transaction and commits it; on any exception rolls back and rethrows.
    /// SQLite: <c>BEGIN IMMEDIATE</c> (takes the write lock now, so the transaction never fails half-way on a lock upgrade;
    /// a busy database waits the connection's busy timeout, then throws SQLITE_BUSY, which <see cref="StoreErrors"/> calls the
    /// store's). PostgreSQL: a READ COMMITTED transaction; take row locks with <see cref="StoreDialect.LockRows"/>.
    /// </summary>
    public abstract T InTransaction<T>(Func<T> work);
}

/// <summary>
/// Where a concern class gets its connection: each store implements it over the connections it already has, with its own
/// locking. SQLite: <see cref="Read{T}"/> runs on the read-only connection under the read lock, <see cref="Write{T}"/> on the one
/// writer connection under the write lock (so store writes never run concurrently on SQLite). PostgreSQL: both open a
/// pooled connection for the call. Both throw <see cref="ObjectDisposedException"/> once the store is disposed.
/// </summary>
internal interface IStoreConnections
{
    StoreDialect Dialect { get; }

    /// <summary>Runs queries that change nothing.</summary>
    T Read<T>(Func<StoreSession, T> read);

    /// <summary>Runs statements that change rows (in autocommit, or in <see cref="StoreSession.InTransaction{T}"/>).</summary>
    T Write<T>(Func<StoreSession, T> write);

    /// <summary>Runs the ingest writer's batch (<see cref="IIngestStore.WriteBatch"/>, one thread). SQLite: as <see cref="Write{T}"/>.
    /// PostgreSQL: on the store's one kept ingest connection, under its lock, with <c>synchronous_commit</c> as
    /// <see cref="Configuration.StoreOptions.Durability"/> says; a connection that broke is replaced at the next batch.</summary>
    T Ingest<T>(Func<StoreSession, T> write);
}

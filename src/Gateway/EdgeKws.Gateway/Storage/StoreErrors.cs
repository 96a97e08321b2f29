using Npgsql;
using SQLite;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Tells a store error that belongs to the message (it will fail again, so quarantine it) from one that belongs to the
/// store (database down, connection lost, disk full, locked, shutting down: retry later, quarantine nothing).
/// </summary>
/// <remarks>
/// Only errors that a message's own content can cause are poison: SQLite constraint, too-big and type-mismatch
/// errors; PostgreSQL data exceptions (SQLSTATE class 22), integrity violations (23) and program limits (54). Everything
/// else, including errors no message could cause (a missing table, a syntax error), is the store's: quarantining valid
/// messages because the database is broken would be worse than making devices wait.
/// </remarks>
public static class StoreErrors
{
    /// <summary>True when <paramref name="error"/> is the store's, not the message's: retry instead of quarantining.</summary>
    public static bool IsTransient(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            SQLiteException s => s.Result is not (SQLite3.Result.Constraint or SQLite3.Result.TooBig or SQLite3.Result.Mismatch),
            PostgresException p => p.SqlState.Length < 2 || p.SqlState[..2] is not ("22" or "23" or "54"),
            NpgsqlException => true, // no server answer: connection refused or lost, timeout
            ObjectDisposedException => true, // the store is closing
            InvalidOperationException { InnerException: NpgsqlException } => true, // "cannot connect to the gateway's PostgreSQL database"
            TimeoutException => true,
            IOException => true,
            _ => false,
        };
    }

    /// <summary>
    /// True when the database rolled back a transaction because of another transaction, not because of anything in it: PostgreSQL's
    /// deadlock (40P01) and serialization failure (40001). Its locks are released, so the same transaction can simply run again.
    /// SQLite has neither (one writer connection; a busy database is the store's transient error, <see cref="IsTransient"/>).
    /// </summary>
    internal static bool IsTransactionConflict(Exception error) =>
        error is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };
}

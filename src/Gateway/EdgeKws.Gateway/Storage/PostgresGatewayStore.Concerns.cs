using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>How this store lends its connections to the concerns written once for both databases (<see cref="ConcernStores"/>,
/// docs/gateway.md "Store layout").</summary>
public sealed partial class PostgresGatewayStore
{
    /// <summary>The store's data source as <see cref="IStoreConnections"/>: every call opens a pooled connection (after the disposed
    /// check, as every other member of this store), reads and writes alike, except the ingest batch, which runs on the store's kept
    /// ingest connection under its lock; concurrency between instances is the database's (transactions, row locks).</summary>
    private sealed class Connections(PostgresGatewayStore store) : IStoreConnections
    {
        public StoreDialect Dialect => StoreDialect.Postgres;

        public T Read<T>(Func<StoreSession, T> read) => Run(read);

        public T Write<T>(Func<StoreSession, T> write) => Run(write);

        public T Ingest<T>(Func<StoreSession, T> write)
        {
            lock (store._writeLock)
            {
                ObjectDisposedException.ThrowIf(store._disposed, store);
                try
                {
                    return write(new PostgresStoreSession(store.Writer()));
                }
                catch (NpgsqlException)
                {
                    // A broken connection (server restart, network): open a fresh one at the next batch.
                    store.DropWriter();
                    throw;
                }
            }
        }

        private T Run<T>(Func<StoreSession, T> work)
        {
            ObjectDisposedException.ThrowIf(store._disposed, store);
            using NpgsqlConnection db = store.OpenConnection();
            return work(new PostgresStoreSession(db));
        }
    }
}

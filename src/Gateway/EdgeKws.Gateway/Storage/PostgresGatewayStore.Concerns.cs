using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>How this store lends its connections to the concerns written once for both databases (<see cref="ConcernStores"/>,
/// docs/gateway.md "Store layout").</summary>
public sealed partial class PostgresGatewayStore
{
    /// <summary>The store's data source as <see cref="IStoreConnections"/>: every call opens a pooled connection (after the disposed
    /// check, as every other member of this store), reads and writes alike; concurrency between instances is the database's
    /// (transactions, row locks).</summary>
    private sealed class Connections(PostgresGatewayStore store) : IStoreConnections
    {
        public StoreDialect Dialect => StoreDialect.Postgres;

        public T Read<T>(Func<StoreSession, T> read) => Run(read);

        public T Write<T>(Func<StoreSession, T> write) => Run(write);

        private T Run<T>(Func<StoreSession, T> work)
        {
            ObjectDisposedException.ThrowIf(store._disposed, store);
            using NpgsqlConnection db = store.OpenConnection();
            return work(new PostgresStoreSession(db));
        }
    }
}

namespace EdgeKws.Gateway.Storage;

/// <summary>How this store lends its connections to the concerns written once for both databases (<see cref="ConcernStores"/>,
/// docs/gateway.md "Store layout").</summary>
public sealed partial class SqliteGatewayStore
{
    /// <summary>The store's two connections as <see cref="IStoreConnections"/>: reads on the read-only connection under the read
    /// lock, writes on the one writer connection under the write lock (as every other member of this store), each after the
    /// disposed check. Disposed by the store (under both locks) before it closes the connections.</summary>
    private sealed class Connections(SqliteGatewayStore store) : IStoreConnections, IDisposable
    {
        private readonly SqliteStoreSession _reader = new(store._reader);
        private readonly SqliteStoreSession _writer = new(store._writer);

        public StoreDialect Dialect => StoreDialect.Sqlite;

        public T Read<T>(Func<StoreSession, T> read)
        {
            lock (store._readLock)
            {
                ObjectDisposedException.ThrowIf(store._disposed, store);
                return read(_reader);
            }
        }

        public T Write<T>(Func<StoreSession, T> write)
        {
            lock (store._writeLock)
            {
                ObjectDisposedException.ThrowIf(store._disposed, store);
                return write(_writer);
            }
        }

        // The ingest writer uses the same writer connection and lock as every other write.
        public T Ingest<T>(Func<StoreSession, T> write) => Write(write);

        public void Dispose()
        {
            _reader.Dispose();
            _writer.Dispose();
        }
    }
}

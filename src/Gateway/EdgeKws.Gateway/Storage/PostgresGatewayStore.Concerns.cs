using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>The concerns written once for both databases (docs/gateway.md, "Store layout"): this store lends them its connections
/// and forwards their members.</summary>
public sealed partial class PostgresGatewayStore
{
    private readonly GovernanceStore _governance;

    /// <summary>Called once by the constructor.</summary>
    private GovernanceStore CreateConcerns()
    {
        var connections = new Connections(this);
        return new GovernanceStore(connections, (session, deviceId) =>
        {
            // Same connection and transaction as the session: these concerns are still written per database.
            var s = (PostgresStoreSession)session;
            NpgsqlTransaction tx = s.Transaction ?? throw new InvalidOperationException("erasure runs in a transaction");
            EraseLabelingRows(s.Connection, tx, deviceId);
            EraseNearMissRows(s.Connection, tx, deviceId);
        });
    }

    /// <inheritdoc />
    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc) => _governance.DeleteRawAudioReceivedBefore(cutoffUtc);

    /// <inheritdoc />
    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members) => _governance.AddDatasetMembers(datasetId, members);

    /// <inheritdoc />
    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId) => _governance.ReadDatasetMembers(datasetId);

    /// <inheritdoc />
    public void RecordModelDataset(string modelVersion, string datasetId) => _governance.RecordModelDataset(modelVersion, datasetId);

    /// <inheritdoc />
    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc) => _governance.EraseDevice(deviceId, keepCredential, nowUtc);

    /// <inheritdoc />
    public IReadOnlyList<ModelTaint> ReadModelTaints() => _governance.ReadModelTaints();

    /// <inheritdoc />
    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit) => _governance.ReadUncheckedClipPairs(limit);

    /// <inheritdoc />
    public void WriteSkewResult(SkewResult result) => _governance.WriteSkewResult(result);

    /// <inheritdoc />
    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit) => _governance.ReadSkewResults(deviceId, limit);

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
            using NpgsqlConnection db = store.Connection();
            return work(new PostgresStoreSession(db));
        }
    }
}

using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using SQLite;

namespace EdgeKws.Gateway.Tests.Storage;

public sealed class SqliteGatewayStore_Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static StoreWrite Valid(string device, long seq, int n)
    {
        byte[] payload = WireJson.Serialize(Wire.Detection(device, n));
        var envelope = new IngestEnvelope(device, Topics.Uplink(device, MessageKind.Detection), payload, [], null, DateTimeOffset.UtcNow);
        Assert.True(IngestValidator.TryValidate(envelope with
        {
            UserProperties = Wire.Properties(seq, MessageKind.Detection, Wire.ConfigHash).Select(p => new KeyValuePair<string, string>(p.Name, p.Value)).ToList(),
        }, 1 << 20, out ValidMessage? m, out _, out string why), why);
        return new StoreWrite(envelope, m, RejectionKind.None, string.Empty);
    }

    [Fact]
    public void Keeps_committed_batches_across_reopen_and_rejects_a_newer_schema()
    {
        var options = new StoreOptions { DatabasePath = _dir.File("g.db") };
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(options))
        {
            var results = new IngestResult[3];
            store.WriteBatch([Valid("dev-s", 1, 1), Valid("dev-s", 2, 2), Valid("dev-s", 1, 1)], results);
            Assert.Equal([IngestOutcome.Stored, IngestOutcome.Stored, IngestOutcome.Duplicate], results.Select(r => r.Outcome));
        }
        using (SqliteGatewayStore store = SqliteGatewayStore.Open(options))
        {
            Assert.Equal([1L, 2L], store.ReadSequences("dev-s"));
        }
        using (var raw = new SQLiteConnection(options.DatabasePath))
        {
            raw.Execute("PRAGMA user_version = 99");
        }
        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => SqliteGatewayStore.Open(options));
        Assert.Contains($"has schema 99; this build knows up to {SqliteGatewayStore.SchemaVersion}", ex.Message, StringComparison.Ordinal);
    }
}

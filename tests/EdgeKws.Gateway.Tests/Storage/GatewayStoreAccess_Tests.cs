using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The API token and audit log members of <see cref="IGatewayStore"/> (schema version 6) on both implementations: a SQLite
/// file and a real PostgreSQL server (<see cref="PostgresFixture"/>).</summary>
[Collection("postgres")]
public sealed class GatewayStoreAccess_Tests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Tokens_are_found_by_hash_while_active_names_are_unique_among_active_ones_and_revocation_holds_across_reopen(string provider)
    {
        string a = ApiToken.Create(), b = ApiToken.Create(), c = ApiToken.Create();
        long idA;
        Configuration.StoreOptions options = postgres.StoreOptions(provider, _dir);
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            idA = store.AddApiToken("alice", ApiRole.Reviewer, ApiToken.Hash(a), Now, "cli");
            Assert.True(store.TryGetActiveApiToken(ApiToken.Hash(a), out ApiTokenRecord? found));
            Assert.Equal(new ApiTokenRecord(idA, "alice", ApiRole.Reviewer, Now, "cli", null), found);
            Assert.False(store.TryGetActiveApiToken(ApiToken.Hash(b), out _));
            // One active token per name: the name says who acted.
            InvalidOperationException taken = Assert.Throws<InvalidOperationException>(() => store.AddApiToken("alice", ApiRole.Admin, ApiToken.Hash(b), Now, "cli"));
            Assert.Contains("an active token named 'alice' exists", taken.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => store.AddApiToken("../alice", ApiRole.Admin, ApiToken.Hash(b), Now, "cli"));
            Assert.Throws<ArgumentException>(() => store.AddApiToken("bob", (ApiRole)9, ApiToken.Hash(b), Now, "cli"));
            Assert.Throws<ArgumentException>(() => store.AddApiToken("bob", ApiRole.Admin, [1, 2, 3], Now, "cli"));
            Assert.True(store.RevokeApiToken(idA, Now.AddMinutes(1)));
            Assert.False(store.RevokeApiToken(idA, Now.AddMinutes(2)));
            Assert.False(store.TryGetActiveApiToken(ApiToken.Hash(a), out _));
            // A revoked name may be given again, to a new token.
            long idC = store.AddApiToken("alice", ApiRole.Operator, ApiToken.Hash(c), Now, "root");
            Assert.Equal([idC], store.ReadApiTokens(includeRevoked: false).Select(t => t.Id));
        }
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            IReadOnlyList<ApiTokenRecord> all = store.ReadApiTokens(includeRevoked: true);
            Assert.Equal([("alice", ApiRole.Reviewer, (DateTimeOffset?)Now.AddMinutes(1)), ("alice", ApiRole.Operator, null)],
                all.Select(t => (t.Name, t.Role, t.RevokedUtc)));
            Assert.False(store.TryGetActiveApiToken(ApiToken.Hash(a), out _));
            Assert.True(store.TryGetActiveApiToken(ApiToken.Hash(c), out ApiTokenRecord? now));
            Assert.Equal(("alice", ApiRole.Operator, "root"), (now!.Name, now.Role, now.CreatedBy));
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_token_hash_already_stored_is_the_databases_error_not_a_taken_name(string provider)
    {
        // PostgreSQL's own copy answered "an active token named 'bob' exists" here (its insert absorbed every conflict); SQLite's let
        // the unique hash refuse the row. One answer now, SQLite's: only a name conflict is absorbed.
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        byte[] hash = ApiToken.Hash(ApiToken.Create());
        store.AddApiToken("alice", ApiRole.Viewer, hash, Now, "cli");
        Exception refused = Assert.ThrowsAny<Exception>(() => store.AddApiToken("bob", ApiRole.Viewer, hash, Now, "cli"));
        Assert.IsNotType<InvalidOperationException>(refused);
        Assert.Equal(["alice"], store.ReadApiTokens(includeRevoked: true).Select(t => t.Name));
        // With the name taken as well, the name is what is reported.
        InvalidOperationException taken = Assert.Throws<InvalidOperationException>(() => store.AddApiToken("alice", ApiRole.Viewer, hash, Now, "cli"));
        Assert.Contains("an active token named 'alice' exists", taken.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Audit_entries_read_back_newest_first_in_pages_with_oversized_fields_cut(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions(provider, _dir));
        var ids = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add(store.AppendAudit(new AuditEntry(Now.AddSeconds(i), i == 0 ? null : "otto", i == 0 ? null : ApiRole.Operator, "POST", "/api/x/{id}",
                $"/api/x/{i}", $"{{\"i\":{i}}}", 200 + i, "127.0.0.1")));
        }
        Assert.Equal(ids.Order(), ids);
        IReadOnlyList<AuditRecord> first = store.ReadAudit(null, 3);
        Assert.Equal([ids[4], ids[3], ids[2]], first.Select(r => r.Id));
        Assert.Equal(new AuditEntry(Now.AddSeconds(4), "otto", ApiRole.Operator, "POST", "/api/x/{id}", "/api/x/4", "{\"i\":4}", 204, "127.0.0.1"), first[0].Entry);
        IReadOnlyList<AuditRecord> second = store.ReadAudit(first[^1].Id, 3);
        Assert.Equal([ids[1], ids[0]], second.Select(r => r.Id));
        Assert.Equal((null, (ApiRole?)null), (second[^1].Entry.Actor, second[^1].Entry.Role));

        // An audit row never fails for its size: long fields are cut to the column limits.
        long big = store.AppendAudit(new AuditEntry(Now, "otto", ApiRole.Operator, "POST", new string('r', 5000), "/" + new string('p', 5000),
            new string('a', 100_000), 400, null));
        AuditEntry e = store.ReadAudit(null, 1).Single(r => r.Id == big).Entry;
        Assert.Equal((256, 1024, 8192), (e.Route.Length, e.Path.Length, e.Arguments!.Length));
        Assert.EndsWith("…", e.Arguments, StringComparison.Ordinal);
    }
}

using EdgeKws.Gateway.Configuration;

namespace EdgeKws.Gateway.Storage;

/// <summary>Opens the store <see cref="StoreOptions.Provider"/> names.</summary>
public static class GatewayStores
{
    /// <summary>SQLite file or PostgreSQL database, schema created or migrated.</summary>
    public static IGatewayStore Open(StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options.Provider == StoreProvider.Postgres ? PostgresGatewayStore.Open(options) : SqliteGatewayStore.Open(options);
    }
}

using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// At start (after <see cref="GatewayService"/> opened the store): a gateway with no active API token still runs (devices
/// connect, ingest works) but answers every API and dashboard call with 401, so it says so and how to make the first token.
/// </summary>
internal sealed class ApiAccessNotice(GatewayService gateway, ILogger<ApiAccessNotice> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<ApiTokenRecord> tokens = gateway.Store.ReadApiTokens(includeRevoked: false);
        if (tokens.Count == 0)
        {
            logger.LogWarning("no API token exists: the HTTP API and the dashboard answer 401 until one is made: " +
                "EdgeKws.Gateway.Host token create --name <who> --role admin [--Gateway:Store:...] (prints the token once)");
        }
        else
        {
            logger.LogInformation("{Count} active API tokens", tokens.Count);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

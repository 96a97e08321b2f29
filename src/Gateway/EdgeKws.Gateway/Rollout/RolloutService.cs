using EdgeKws.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Rollout;

/// <summary>Ticks the <see cref="RolloutController"/> every <see cref="RolloutOptions.PollInterval"/> (when
/// <see cref="RolloutOptions.Enabled"/>). Started after <see cref="GatewayService"/>, whose store and broker it uses.</summary>
public sealed class RolloutService(IServiceProvider services, ModelLoopOptions options, ILogger<RolloutService> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Rollout.Enabled)
        {
            logger.LogInformation("rollouts are disabled in this instance (Gateway:Models:Rollout:Enabled = false)");
            return;
        }
        RolloutController controller = services.GetRequiredService<RolloutController>();
        using var timer = new PeriodicTimer(options.Rollout.PollInterval);
        try
        {
            do
            {
                try
                {
                    await controller.TickAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A database hiccup must not end the rollout loop: the state is in the store, the next tick retries.
                    logger.LogError(ex, "rollout tick failed");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

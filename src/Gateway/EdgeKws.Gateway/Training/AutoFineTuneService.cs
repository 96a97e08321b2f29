using EdgeKws.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Training;

/// <summary>Runs <see cref="AutoFineTuneLoop.Tick"/> every <see cref="AutoFineTuneOptions.PollInterval"/> (on the gateway's
/// <see cref="TimeProvider"/>) when <see cref="AutoFineTuneOptions.Enabled"/>. Started after <see cref="GatewayService"/>, whose store it uses.</summary>
public sealed class AutoFineTuneService(IServiceProvider services, ModelLoopOptions options, TimeProvider clock, ILogger<AutoFineTuneService> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.AutoFineTune.Enabled)
        {
            logger.LogInformation("the automatic fine-tune policy is off (Gateway:Models:AutoFineTune:Enabled = false)");
            return;
        }
        AutoFineTuneLoop loop = services.GetRequiredService<AutoFineTuneLoop>();
        using var timer = new PeriodicTimer(options.AutoFineTune.PollInterval, clock);
        try
        {
            do
            {
                try
                {
                    loop.Tick();
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A database hiccup must not end the loop: the next look retries.
                    logger.LogError(ex, "auto fine-tune look failed");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

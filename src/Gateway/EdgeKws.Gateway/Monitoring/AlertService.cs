using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// Runs <see cref="AlertRules"/> every <see cref="MonitoringOptions.EvaluationInterval"/> on the injected clock and
/// stores the result (<see cref="IGatewayStore.ApplyAlerts"/>). A failed evaluation is logged and retried at the next
/// tick; it never stops the gateway.
/// </summary>
public sealed class AlertService(GatewayService gateway, MonitoringOptions options, TimeProvider clock, ILogger<AlertService> log) : BackgroundService
{
    // One evaluation at a time: an evaluation that read the store earlier must not apply its (older) view after a newer one.
    private readonly Lock _evaluating = new();
    private long _evaluations, _failures;

    /// <summary>Completed evaluations.</summary>
    public long Evaluations => Interlocked.Read(ref _evaluations);

    /// <summary>Evaluations that threw.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Evaluates the rules once now and stores the outcome; returns the conditions that hold.</summary>
    public IReadOnlyList<AlertCondition> EvaluateOnce()
    {
        lock (_evaluating)
        {
            var rules = new AlertRules(gateway.Store, new FleetMonitor(gateway.Store, clock), options);
            IReadOnlyList<AlertCondition> firing = rules.Evaluate();
            gateway.Store.ApplyAlerts(firing, clock.GetUtcNow());
            Interlocked.Increment(ref _evaluations);
            return firing;
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                EvaluateOnce();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Interlocked.Increment(ref _failures);
                log.LogError(ex, "alert evaluation failed; retrying in {Interval}", options.EvaluationInterval);
            }
            try
            {
                await Task.Delay(options.EvaluationInterval, clock, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// Deletes raw audio clips older than <see cref="RetentionOptions.RawAudioDays"/> (by gateway receive time, so a device's wrong
/// clock cannot keep audio longer) every <see cref="RetentionOptions.Interval"/> on the injected clock. Feature clips, detections
/// and labels stay. 0 days keeps audio forever. A failed run is logged and retried at the next tick.
/// </summary>
public sealed class RetentionService(GatewayService gateway, RetentionOptions options, TimeProvider clock, ILogger<RetentionService> log) : BackgroundService
{
    private long _deleted, _runs, _failures;

    /// <summary>Raw audio clips deleted since start.</summary>
    public long DeletedTotal => Interlocked.Read(ref _deleted);

    /// <summary>Completed runs.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Runs that threw.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Runs the retention rule once now; returns the clips deleted (0 when retention is off).</summary>
    public long RunOnce()
    {
        if (options.RawAudioDays == 0)
        {
            Interlocked.Increment(ref _runs);
            return 0;
        }
        DateTimeOffset cutoff = clock.GetUtcNow() - TimeSpan.FromDays(options.RawAudioDays);
        long deleted = gateway.Store.DeleteRawAudioReceivedBefore(cutoff);
        Interlocked.Add(ref _deleted, deleted);
        Interlocked.Increment(ref _runs);
        if (deleted > 0)
        {
            log.LogInformation("retention: deleted {Count} raw audio clips received before {Cutoff:O} ({Days} days)", deleted, cutoff, options.RawAudioDays);
        }
        return deleted;
    }

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Periodic.Run(() => RunOnce(), options.Interval, clock, log, "raw audio retention", () => Interlocked.Increment(ref _failures), stoppingToken);
}

/// <summary>
/// Checks training-serving skew (<see cref="SkewChecker"/>) for every clip held as both raw audio and device features, once, every
/// <see cref="MonitoringOptions.EvaluationInterval"/>; the alert rules read the stored results.
/// </summary>
public sealed class SkewService(GatewayService gateway, MonitoringOptions options, TimeProvider clock, ILogger<SkewService> log) : BackgroundService
{
    // Pairs checked per store read: bounds the memory of one read (a pair is up to ~360 KB).
    private const int BatchPairs = 32;

    private readonly Lock _checking = new();
    private long _checked, _failures;

    /// <summary>Clips checked since start.</summary>
    public long Checked => Interlocked.Read(ref _checked);

    /// <summary>Runs that threw.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Checks every unchecked clip pair now and stores the results; returns them.</summary>
    public IReadOnlyList<SkewResult> CheckOnce()
    {
        lock (_checking)
        {
            var results = new List<SkewResult>();
            while (true)
            {
                IReadOnlyList<ClipPair> pairs = gateway.Store.ReadUncheckedClipPairs(BatchPairs);
                foreach (ClipPair pair in pairs)
                {
                    SkewResult r = SkewChecker.Compare(pair, clock.GetUtcNow());
                    gateway.Store.WriteSkewResult(r);
                    results.Add(r);
                    Interlocked.Increment(ref _checked);
                    if (r.Status != SkewStatus.Compared || r.MaxRelativeDifference > options.SkewRelativeLimit)
                    {
                        log.LogWarning("training-serving skew, device {Device} clip {Clip}: {Status}: {Message}", r.DeviceId, r.ClipId, r.Status, r.Message);
                    }
                }
                if (pairs.Count < BatchPairs)
                {
                    return results;
                }
            }
        }
    }

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Periodic.Run(() => CheckOnce(), options.EvaluationInterval, clock, log, "skew check", () => Interlocked.Increment(ref _failures), stoppingToken);
}

/// <summary>The loop of the periodic background jobs: run, log a failure and go on, wait on the injected clock.</summary>
internal static class Periodic
{
    public static async Task Run(Action work, TimeSpan interval, TimeProvider clock, ILogger log, string what, Action onFailure, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                work();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                onFailure();
                log.LogError(ex, "{What} failed; retrying in {Interval}", what, interval);
            }
            try
            {
                await Task.Delay(interval, clock, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Training;

/// <summary>
/// Runs model jobs one at a time in the background (training takes the CPU): <see cref="Submit"/> checks the request and resolves
/// its names (<see cref="ModelJobInputs"/>), then <see cref="ModelJobSteps"/> trains or imports, evaluates, gates, signs and
/// registers. Job records live in memory (a restart forgets them); what they produce is in the registry and the work directory.
/// </summary>
/// <param name="registry">Where models are registered.</param>
/// <param name="options">Directories, trainer and timeouts.</param>
/// <param name="datasetDirectory">Where training datasets are named from (<c>Gateway:Labeling:DatasetDirectory</c>).</param>
/// <param name="clock">Time of jobs.</param>
/// <param name="logger">Job outcomes.</param>
public sealed class ModelJobs(ModelRegistry registry, ModelLoopOptions options, string datasetDirectory, TimeProvider clock, ILogger<ModelJobs> logger)
{
    private readonly ConcurrentDictionary<string, ModelJob> _jobs = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _one = new(1, 1);
    private readonly ModelJobSteps _steps = new(registry, options, clock);
    private long _next;

    /// <summary>Every job, newest first.</summary>
    public IReadOnlyList<ModelJob> List() => _jobs.Values.OrderByDescending(j => j.CreatedUtc).ThenByDescending(j => j.Id, StringComparer.Ordinal).ToList();

    /// <summary>One job, or false.</summary>
    public bool TryGet(string id, out ModelJob? job) => _jobs.TryGetValue(id, out job);

    /// <summary>Queues a job; throws <see cref="ArgumentException"/> naming the problem of a bad request.</summary>
    public ModelJob Submit(ModelJobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ModelJobInputs? inputs = null;
        if ((request.RefuseValues() ?? ModelJobInputs.Resolve(request, options, datasetDirectory, out inputs)) is { } problem)
        {
            throw new ArgumentException(problem);
        }
        DateTimeOffset now = clock.GetUtcNow();
        string id = string.Create(CultureInfo.InvariantCulture, $"{now:yyyyMMddHHmmss}-{Interlocked.Increment(ref _next)}");
        string work = Path.GetFullPath(Path.Combine(options.WorkDirectory, id));
        var job = new ModelJob(id, request, ModelJobState.Queued, now, null, [], null, null, work);
        _jobs[id] = job;
        _ = Task.Run(() => RunAsync(job, inputs!));
        return job;
    }

    /// <summary>Waits until the job finishes (tests, CLI --wait).</summary>
    public async Task<ModelJob> WaitAsync(string id, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (!_jobs.TryGetValue(id, out ModelJob? job)) throw new ArgumentException($"no job '{id}'");
            if (job.State is ModelJobState.Succeeded or ModelJobState.Failed) return job;
            if (sw.Elapsed > timeout) throw new TimeoutException($"job '{id}' still {job.State} after {timeout}");
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(ModelJob job, ModelJobInputs inputs)
    {
        await _one.WaitAsync().ConfigureAwait(false);
        var steps = new List<string>();
        try
        {
            _jobs[job.Id] = job with { State = ModelJobState.Running };
            Directory.CreateDirectory(job.WorkDirectory);
            RegisteredModel model = await _steps.RunAsync(job.Request, inputs, job.WorkDirectory, steps).ConfigureAwait(false);
            _jobs[job.Id] = job with { State = ModelJobState.Succeeded, FinishedUtc = clock.GetUtcNow(), Steps = steps, Model = model };
            logger.LogInformation("model job {Id}: {Version} registered as {Stage}: {Gate}", job.Id, model.ModelVersion, model.Stage, model.GateSummary);
        }
#pragma warning disable CA1031 // A job failure of any kind is the job's result, reported through the API; it must not kill the gateway.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _jobs[job.Id] = job with { State = ModelJobState.Failed, FinishedUtc = clock.GetUtcNow(), Steps = steps, Error = ex.Message };
            logger.LogWarning(ex, "model job {Id} failed", job.Id);
        }
        finally
        {
            _one.Release();
        }
    }
}

using System.Globalization;
using System.Text.Json;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Labeling;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Training;

/// <summary>What <c>GET /api/model-loop/policy</c> shows.</summary>
/// <param name="Enabled">Whether the policy runs in this instance.</param>
/// <param name="MinNewLabelledClips">Count threshold.</param>
/// <param name="MinOldestAgeHours">Age threshold of the oldest new label, in hours.</param>
/// <param name="Since">What the new labels are counted from (null before the first look).</param>
/// <param name="SinceUtc">When that was.</param>
/// <param name="ClipsSinceLastModel">Decided labels since then (at the last look).</param>
/// <param name="OldestAgeHours">Age of the oldest of them at the last look, or null.</param>
/// <param name="LastDecision">The last decision (null before the first look).</param>
/// <param name="LastJobId">The last job the policy submitted, or null.</param>
/// <param name="LastDataset">The field dataset it exported for that job, or null.</param>
/// <param name="LastError">Why the last start failed (export or submission), or null.</param>
public sealed record AutoFineTuneStatus(bool Enabled, int MinNewLabelledClips, double MinOldestAgeHours, string? Since, DateTimeOffset? SinceUtc, int ClipsSinceLastModel,
    double? OldestAgeHours, AutoFineTuneDecision? LastDecision, string? LastJobId, string? LastDataset, string? LastError);

/// <summary>
/// One look of the automatic fine-tune policy (<see cref="AutoFineTunePolicy"/>): counts the decided labels newer than the last model, decides,
/// and on Start exports the field dataset (time split) under <c>Gateway:Labeling:DatasetDirectory</c> and submits a FineTune job through
/// <see cref="ModelJobs.Submit"/> (what <c>POST /api/model-jobs</c> calls). Every decision is logged; every start (or failed start) is
/// written to the audit log as actor <c>auto-fine-tune</c>.
/// </summary>
/// <param name="store">The gateway store.</param>
/// <param name="registry">The model registry (the production model).</param>
/// <param name="jobs">The job runner.</param>
/// <param name="options">The policy's options.</param>
/// <param name="datasetDirectory"><c>Gateway:Labeling:DatasetDirectory</c>.</param>
/// <param name="clock">Time.</param>
/// <param name="logger">Decisions.</param>
public sealed class AutoFineTuneLoop(IGatewayStore store, ModelRegistry registry, ModelJobs jobs, AutoFineTuneOptions options, string datasetDirectory, TimeProvider clock,
    ILogger<AutoFineTuneLoop> logger)
{
    /// <summary>Audit actor of the policy's starts.</summary>
    public const string Actor = "auto-fine-tune";

    private readonly Lock _lock = new();
    private AutoFineTuneStatus _status = new(options.Enabled, options.MinNewLabelledClips, options.MinOldestAge.TotalHours, null, null, 0, null, null, null, null, null);

    /// <summary>The status at the last look.</summary>
    public AutoFineTuneStatus Status
    {
        get
        {
            lock (_lock) return _status;
        }
    }

    /// <summary>Looks once: decides and, on Start, exports and submits. Returns the decision.</summary>
    public AutoFineTuneDecision Tick()
    {
        lock (_lock)
        {
            DateTimeOffset now = clock.GetUtcNow();
            IReadOnlyList<ModelJob> all = jobs.List();
            string? active = all.FirstOrDefault(j => j.State is ModelJobState.Queued or ModelJobState.Running)?.Id;
            LabelBacklog? backlog = Backlog(all);
            AutoFineTuneDecision decision = AutoFineTunePolicy.Decide(options, backlog, active, now);
            logger.LogInformation("auto fine-tune: {Reason}", decision.Reason);
            _status = _status with
            {
                Since = backlog?.Since,
                SinceUtc = backlog?.SinceUtc,
                ClipsSinceLastModel = decision.NewClips,
                OldestAgeHours = decision.OldestAge?.TotalHours,
                LastDecision = decision,
            };
            if (decision.Start)
            {
                Start(decision, now);
            }
            return decision;
        }
    }

    private LabelBacklog? Backlog(IReadOnlyList<ModelJob> all)
    {
        RegisteredModel? production = registry.Production;
        if (production is null) return null;
        // The last FineTune job (any outcome, the policy's or an operator's): its dataset was exported just before it was submitted.
        // Jobs live in memory, so it is written to the store (which only ever moves it forward) and read back from there: after a
        // restart the count goes on from that job, not from the production model's registration.
        if (all.Where(j => j.Request.Kind == ModelJobKind.FineTune).MaxBy(j => j.CreatedUtc) is { } last)
        {
            store.AdvanceModelLoopBaseline(new ModelLoopBaseline(last.CreatedUtc, $"fine-tune job {last.Id}", last.Id));
        }
        (DateTimeOffset since, string what) = (production.RegisteredUtc, $"production {production.ModelVersion} registered");
        // A model promoted after the last fine-tune is the newer "last model".
        if (store.TryGetModelLoopBaseline(out ModelLoopBaseline? stored) && stored!.SinceUtc > since)
        {
            (since, what) = (stored.SinceUtc, stored.Since);
        }
        return LabelBacklog.Read(store, since, what);
    }

    private void Start(AutoFineTuneDecision decision, DateTimeOffset now)
    {
        string stamp = now.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string name = "auto-ft-" + stamp;
        string? problem = null;
        ModelJobRequest? request = null;
        try
        {
            GatewayExportResult export = GatewayDatasetExport.Export(store, Path.Combine(Path.GetFullPath(datasetDirectory), name), options.Keyword, clock, new FieldDatasetOptions());
            string parent = registry.Production!.ModelVersion;
            string version = parent.Length + 11 + stamp.Length <= Shared.Contracts.WireLimits.MaxModelVersionLength ? $"{parent}+auto-ft.{stamp}" : $"auto-ft.{stamp}";
            request = new ModelJobRequest
            {
                Kind = ModelJobKind.FineTune,
                ModelVersion = version,
                Dataset = name,
                EvaluationSet = options.EvaluationSet,
                OperatingPointSet = options.OperatingPointSet,
                ReplayDataset = options.ReplayDataset,
                Epochs = options.Epochs,
                Tiny = options.Tiny,
            };
            ModelJob job = jobs.Submit(request);
            // Persisted at once: a restart before the next look must not count these labels again.
            store.AdvanceModelLoopBaseline(new ModelLoopBaseline(job.CreatedUtc, $"fine-tune job {job.Id}", job.Id));
            _status = _status with { LastJobId = job.Id, LastDataset = name, LastError = null };
            logger.LogInformation("auto fine-tune: exported {Dataset} ({Examples} examples), submitted job {Job} for {Version}", name, export.Examples, job.Id, version);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            problem = ex.Message;
            _status = _status with { LastError = problem };
            logger.LogWarning(ex, "auto fine-tune: could not start: {Problem}", problem);
        }
        string arguments = JsonSerializer.Serialize(new { decision.Reason, dataset = name, request?.ModelVersion, jobId = problem is null ? _status.LastJobId : null, error = problem });
        store.AppendAudit(new AuditEntry(now, Actor, null, "POLICY", "/api/model-jobs", "/api/model-jobs", arguments, problem is null ? 202 : 500, null));
    }
}

using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Rollout;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Training;
using EdgeKws.Shared.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>A manual rollback request.</summary>
/// <param name="Reason">Why (kept in the rollout record).</param>
public sealed record RollbackInput(string? Reason);

/// <summary>
/// The model registry, model jobs and rollouts over HTTP (documented in docs/model-updates.md, "HTTP API"):
/// <c>/api/registry/models</c>, <c>/api/registry/signing-key</c>, <c>/api/registry/labeling-models</c> (the labeling worker's verifier and
/// calibration, docs/labeling.md), <c>/api/model-jobs</c>, <c>/api/rollouts</c>.
/// </summary>
public static class ModelApi
{
    /// <summary>Most devices one rollout may name.</summary>
    public const int MaxRolloutDevices = 100_000;

    /// <summary>Registers the registry, job runner, rollout controller and its background service.</summary>
    public static void AddServices(IServiceCollection services, GatewayOptions gatewayOptions)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(gatewayOptions);
        ModelLoopOptions options = gatewayOptions.Models;
        services.AddSingleton(options);
        // The store and the broker exist once GatewayService has started: resolved lazily, on first use.
        services.AddSingleton(sp => new ModelRegistry(sp.GetRequiredService<GatewayService>().Store, options));
        services.AddSingleton(sp => new ModelJobs(sp.GetRequiredService<ModelRegistry>(), options, gatewayOptions.Labeling.DatasetDirectory, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ModelJobs>>()));
        services.AddSingleton(sp =>
        {
            GatewayService gateway = sp.GetRequiredService<GatewayService>();
            return new RolloutController(gateway.Store, sp.GetRequiredService<ModelRegistry>(), () => gateway.Commands, options,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RolloutController>>());
        });
        services.AddSingleton<RolloutService>();
        services.AddHostedService(sp => sp.GetRequiredService<RolloutService>());
        services.AddSingleton(sp => new AutoFineTuneLoop(sp.GetRequiredService<GatewayService>().Store, sp.GetRequiredService<ModelRegistry>(), sp.GetRequiredService<ModelJobs>(),
            options.AutoFineTune, gatewayOptions.Labeling.DatasetDirectory, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AutoFineTuneLoop>>()));
        services.AddSingleton<AutoFineTuneService>();
        services.AddHostedService(sp => sp.GetRequiredService<AutoFineTuneService>());
    }

    /// <summary>A labeling model's record as the API shows it: the lineage as JSON, not as a string.</summary>
    private static object LabelingLineage(LabelingModelRecord r) => new
    {
        r.Sha256,
        r.Kind,
        r.Version,
        r.FileName,
        r.SizeBytes,
        r.RegisteredUtc,
        Lineage = System.Text.Json.Nodes.JsonNode.Parse(r.LineageJson),
    };

    /// <summary>Maps the endpoints under <paramref name="api"/> (the <c>/api</c> group).</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/registry/models", (ModelRegistry r) => Results.Json(r.Store.ReadRegisteredModels().Select(Lineage))).Requires(ApiRole.Viewer);
        api.MapGet("/registry/models/{version}", (ModelRegistry r, string version) =>
            r.Store.TryGetRegisteredModel(version, out RegisteredModel? m) ? Results.Json(m) : NotFound($"model '{version}' is not registered")).Requires(ApiRole.Viewer);
        api.MapGet("/registry/models/{version}/package", Package).Requires(ApiRole.Viewer);
        api.MapPost("/registry/models", (ModelJobs jobs, ModelJobRequest? body) =>
            body is null ? BadRequest("body must be a register request {modelVersion, manifest, trainingManifest, evaluationSet} (names under the gateway's directories)")
                : Submit(jobs, body with { Kind = ModelJobKind.Register })).Requires(ApiRole.Operator);
        api.MapGet("/registry/signing-key", SigningKey).Requires(ApiRole.Viewer);
        api.MapGet("/registry/labeling-models", (GatewayService g) => Results.Json(g.Store.ReadLabelingModels().Select(LabelingLineage))).Requires(ApiRole.Viewer);
        api.MapGet("/registry/labeling-models/{sha256}/file", (GatewayService g, string sha256) =>
            g.Store.TryGetLabelingModelContent(sha256.ToLowerInvariant(), out byte[]? content) ? Results.Bytes(content!, "application/octet-stream")
                : NotFound($"no labeling model of sha256 '{sha256}' is registered")).Requires(ApiRole.Viewer);
        api.MapPost("/model-jobs", (ModelJobs jobs, ModelJobRequest? body) =>
            body is null ? BadRequest("body must be a model job {kind, modelVersion, dataset, evaluationSet, ...}") : Submit(jobs, body)).Requires(ApiRole.Operator);
        api.MapGet("/model-jobs", (ModelJobs jobs) => Results.Json(jobs.List())).Requires(ApiRole.Viewer);
        api.MapGet("/model-jobs/{id}", (ModelJobs jobs, string id) => jobs.TryGet(id, out ModelJob? j) ? Results.Json(j) : NotFound($"no model job '{id}'")).Requires(ApiRole.Viewer);
        api.MapGet("/model-loop/policy", (AutoFineTuneLoop loop) => Results.Json(loop.Status)).Requires(ApiRole.Viewer);
        api.MapGet("/model-loop/versions/series", VersionSeries).Requires(ApiRole.Viewer);
        api.MapPost("/rollouts", StartRollout).Requires(ApiRole.Operator);
        api.MapGet("/rollouts", (GatewayService g, bool? active, int? limit) =>
            limit is < 1 or > 1000 ? BadRequest("limit must be in 1..1000") : Results.Json(g.Store.ReadRollouts(active ?? false, limit ?? 50))).Requires(ApiRole.Viewer);
        api.MapGet("/rollouts/{id:long}", (GatewayService g, long id) =>
            g.Store.TryGetRollout(id, out RolloutRecord? r) ? Results.Json(r) : NotFound($"rollout {id} does not exist")).Requires(ApiRole.Viewer);
        api.MapPost("/rollouts/{id:long}/rollback", Rollback).Requires(ApiRole.Operator);
    }

    // The loop page's chart: production FA/hour (the /api/metrics/fa/series points) and observed FRR per model version, same window and bucket rules.
    private static IResult VersionSeries(GatewayService g, TimeProvider clock, string? window, string? bucket)
    {
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why) || !ApiArguments.TryBucket(bucket ?? "1h", length, out TimeSpan b, out why))
        {
            return BadRequest(why);
        }
        return Results.Json(new
        {
            window = window ?? "24h",
            bucket = bucket ?? "1h",
            frrNote = ModelVersionSeriesReader.FrrNote,
            versions = new ModelVersionSeriesReader(g.Store, clock).Read(length, b),
        });
    }

    private static object Lineage(RegisteredModel m) => new
    {
        m.ModelId,
        m.ModelVersion,
        m.ParentVersion,
        m.Stage,
        m.DatasetId,
        m.FeatureConfigHash,
        m.CodeCommit,
        m.CodeDirty,
        m.FileName,
        m.ModelSha256,
        m.ModelSizeBytes,
        m.Threshold,
        m.SigningKeyId,
        m.FloatWeights,
        m.FineTune,
        evaluation = new { m.FaPerHour, m.FalseRejectRate, m.FaPerHourResolution, m.EvaluationSet },
        gate = new { promote = m.GatePromote, summary = m.GateSummary, againstVersion = m.GateAgainstVersion },
        m.RegisteredUtc,
        m.StageChangedUtc,
    };

    private static IResult Submit(ModelJobs jobs, ModelJobRequest request)
    {
        try
        {
            ModelJob job = jobs.Submit(request);
            return Results.Json(job, statusCode: StatusCodes.Status202Accepted);
        }
        catch (ArgumentException ex)
        {
            return BadRequest(ex.Message);
        }
    }

    private static IResult Package(ModelRegistry r, string version)
    {
        if (!r.Store.TryGetRegisteredModel(version, out RegisteredModel? m) || !r.Store.TryGetModelPackage(version, out ModelPackage? p))
        {
            return NotFound($"model '{version}' is not registered");
        }
        return Results.Json(new { m!.ModelVersion, m.FileName, m.SigningKeyId, manifest = p!.Manifest, signature = p.Signature, model = p.Model });
    }

    private static IResult SigningKey(ModelRegistry r)
    {
        try
        {
            using ManifestSigner signer = r.LoadSigner();
            return Results.Json(new { keyId = signer.KeyId, publicKeyPem = signer.ExportPublicKeyPem() });
        }
        catch (InvalidOperationException ex)
        {
            return Results.Json(new { error = ex.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static async Task<IResult> StartRollout(RolloutController rollouts, RolloutRequest? body, CancellationToken cancellationToken)
    {
        if (body is null)
        {
            return BadRequest("body must be {modelVersion, canaries: [ids], waves: [[ids], ...], soakListeningHours?}");
        }
        if (string.IsNullOrEmpty(body.ModelVersion) || body.ModelVersion.Length > Shared.Contracts.WireLimits.MaxModelVersionLength)
        {
            return BadRequest($"modelVersion must be 1..{Shared.Contracts.WireLimits.MaxModelVersionLength} characters");
        }
        if ((body.Canaries?.Length ?? 0) + (body.Waves?.Sum(w => w?.Length ?? 0) ?? 0) > MaxRolloutDevices)
        {
            return BadRequest($"canaries and waves: at most {MaxRolloutDevices} devices per rollout");
        }
        if (body.SoakListeningHours is { } soak && !(double.IsFinite(soak) && soak is >= 0 and <= 10_000))
        {
            return BadRequest("soakListeningHours must be in 0..10000");
        }
        try
        {
            RolloutRecord r = await rollouts.StartAsync(body, cancellationToken).ConfigureAwait(false);
            return Results.Json(r, statusCode: StatusCodes.Status201Created);
        }
        catch (RolloutRefusedException ex)
        {
            return Results.Json(new { error = ex.Message }, statusCode: ex.StatusCode);
        }
    }

    private static async Task<IResult> Rollback(RolloutController rollouts, long id, RollbackInput? body, CancellationToken cancellationToken)
    {
        if (body?.Reason is { Length: > Shared.Contracts.WireLimits.MaxTextLength })
        {
            return BadRequest($"reason must be at most {Shared.Contracts.WireLimits.MaxTextLength} characters");
        }
        try
        {
            RolloutRecord r = await rollouts.RollbackAsync(id, body?.Reason, cancellationToken).ConfigureAwait(false);
            return Results.Json(r, statusCode: StatusCodes.Status202Accepted);
        }
        catch (RolloutRefusedException ex)
        {
            return Results.Json(new { error = ex.Message }, statusCode: ex.StatusCode);
        }
    }
}

using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// The model versions the fleet reports, under <c>/api/models</c>: list them, the ones trained on data of a device later erased
/// (<c>/taints</c>), and each version's drift baseline (read; set: operators). The registry of built models is <see cref="ModelApi"/>.
/// </summary>
public static class FleetModelApi
{
    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/models", (GatewayService g) => Results.Json(g.Store.ReadModels())).Requires(ApiRole.Viewer);
        api.MapGet("/models/taints", (GatewayService g) => Results.Json(g.Store.ReadModelTaints())).Requires(ApiRole.Viewer);
        api.MapPut("/models/{version}/baseline", PutBaseline).Requires(ApiRole.Operator);
        api.MapGet("/models/{version}/baseline", (GatewayService g, string version) =>
            g.Store.TryGetModelBaseline(version, out DriftSketch? b) ? Results.Bytes(WireJson.Serialize(b!), "application/json") : NotFound($"model '{version}' has no baseline"))
            .Requires(ApiRole.Viewer);
    }

    private static async Task<IResult> PutBaseline(GatewayService g, TimeProvider clock, string version, HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        if (!WireJson.TryDeserialize(buffer.ToArray(), WireJsonContext.Default.DriftSketch, out DriftSketch? sketch, out string reason))
        {
            return BadRequest(reason);
        }
        if (sketch.ModelVersion is not null && sketch.ModelVersion != version)
        {
            return BadRequest($"the sketch names model '{sketch.ModelVersion}', the URL '{version}'");
        }
        try
        {
            g.Store.SetModelBaseline(version, sketch, clock.GetUtcNow());
        }
        catch (ArgumentException ex)
        {
            return BadRequest(ex.Message);
        }
        return Results.Json(new { modelVersion = version, frames = sketch.MfccFrameCount(), sketch.FeatureConfigHash });
    }
}

using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeKws.Gateway.Api;

/// <summary><c>GET /healthz</c> (open, for load balancers and probes): whether the store answers, with its counts.</summary>
public static class HealthApi
{
    /// <summary>Maps the route onto <paramref name="app"/>'s root.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/healthz", Healthz).Open();
    }

    /// <summary>
    /// 200 with the store's counts, or 503 when the store cannot answer, whatever the store and whatever the failure (SQLite
    /// error, PostgreSQL down or unreachable, store not open yet): a health check that throws would answer 500, which a load
    /// balancer reads as "broken gateway" rather than "dependency down".
    /// </summary>
    private static IResult Healthz(GatewayService g)
    {
        try
        {
            StoreCounts c = g.Store.Count();
            return Results.Json(new { status = "ok", messages = c.Messages, quarantined = c.Quarantined, devices = c.Devices });
        }
#pragma warning disable CA1031 // Every store failure is an outage here; cancellation is not (the request is gone).
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            return Results.Json(new { status = "unavailable", reason = ex.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}

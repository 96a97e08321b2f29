using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// The HTTP endpoints (JSON API, Prometheus <c>/metrics</c>, <c>/healthz</c>, dashboard), one <c>*Api</c> class a concern; this class only
/// puts them together: the root routes, and the <c>/api</c> group with its audit filter. See docs/gateway.md for the list.
/// </summary>
public static class GatewayApi
{
    /// <summary>Maps every endpoint onto <paramref name="app"/>, each with the role it needs (docs/gateway.md, "Authentication and roles").</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        HealthApi.Map(app);
        PrometheusApi.Map(app);

        RouteGroupBuilder api = app.MapGroup("/api");
        api.AddEndpointFilterFactory(AuditLog.ArgumentsFilter);
        DeviceApi.Map(api);
        DeviceLossesApi.Map(api);
        NearMissApi.Map(api);
        DetectionApi.Map(api);
        MetricsApi.Map(api);
        FleetModelApi.Map(api);
        EvaluationApi.Map(api);
        AlertApi.Map(api);
        QuarantineApi.Map(api);
        ReviewApi.Map(api);
        ModelApi.Map(api);
        TokenApi.Map(api);
        AuditLog.Map(api);
        ApiAuth.Map(app, api);

        DashboardApi.Map(app);
    }
}

using EdgeKws.Gateway.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;

namespace EdgeKws.Gateway.Api;

/// <summary><c>GET /api/alerts?active=&amp;limit=</c> (viewers): the alerts the monitoring rules raised, the active ones by default.</summary>
public static class AlertApi
{
    /// <summary>Maps the route onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/alerts", (GatewayService g, bool? active, int? limit) =>
            TryLimit(limit, 200, out int l, out IResult? bad) ? Results.Json(g.Store.ReadAlerts(active ?? true, l)) : bad!).Requires(ApiRole.Viewer);
    }
}

using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeKws.Gateway.Api;

/// <summary><c>GET /api/devices/{id}/losses</c>: what a device lost (read-only; see <see cref="DeviceLosses"/>).</summary>
public static class DeviceLossesApi
{
    /// <summary>Maps the route onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/devices/{id}/losses", (GatewayService g, TimeProvider clock, string id) =>
            g.Store.ReadDevices().Any(d => d.DeviceId == id)
                ? Results.Json(new DeviceLosses(g.Store, clock).Report(id))
                : ApiErrors.NotFound($"device '{id}' is unknown"))
            .Requires(ApiRole.Viewer);
    }
}

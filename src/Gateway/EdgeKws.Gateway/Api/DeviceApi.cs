using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>A cohort assignment.</summary>
/// <param name="Cohort">The cohort, or null to clear.</param>
public sealed record CohortInput(string? Cohort);

/// <summary>
/// The fleet's devices under <c>/api/devices</c>: list them (with how long each has been silent), one device with its FA/hour per
/// window, set its cohort, and erase its data (operators). What a device lost is <see cref="DeviceLossesApi"/>.
/// </summary>
public static class DeviceApi
{
    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/devices", (GatewayService g, TimeProvider clock) => Results.Json(g.Store.ReadDevices().Select(d => DeviceView(d, clock.GetUtcNow()))))
            .Requires(ApiRole.Viewer);
        api.MapGet("/devices/{id}", DeviceDetail).Requires(ApiRole.Viewer);
        api.MapPut("/devices/{id}/cohort", SetCohort).Requires(ApiRole.Operator);
        api.MapDelete("/devices/{id}/data", EraseDevice).Requires(ApiRole.Operator);
    }

    private static IResult EraseDevice(GatewayService g, TimeProvider clock, string id, bool? keepCredential)
    {
        if (!g.Store.ReadDevices().Any(d => d.DeviceId == id))
        {
            return NotFound($"device '{id}' is unknown");
        }
        ErasureCounts counts = g.Store.EraseDevice(id, keepCredential ?? false, clock.GetUtcNow());
        return Results.Json(new { deviceId = id, erased = counts });
    }

    private static object DeviceView(DeviceRecord d, DateTimeOffset now) => new
    {
        d.DeviceId,
        d.HasCredential,
        d.FirstSeenUtc,
        d.LastSeenUtc,
        d.ModelVersion,
        d.Status,
        d.Cohort,
        silentSeconds = d.LastSeenUtc is { } last ? Math.Max(0, (now - last).TotalSeconds) : (double?)null,
    };

    private static IResult DeviceDetail(GatewayService g, TimeProvider clock, string id)
    {
        DeviceRecord? d = g.Store.ReadDevices().FirstOrDefault(x => x.DeviceId == id);
        if (d is null)
        {
            return NotFound($"device '{id}' is unknown");
        }
        var fleet = new FleetMonitor(g.Store, clock);
        var fa = MetricsWindows.All.ToDictionary(w => w.Name, w => fleet.FalseAcceptRates(w.Length, FaScope.Device).FirstOrDefault(x => x.Key == id));
        return Results.Json(new { device = DeviceView(d, clock.GetUtcNow()), fa });
    }

    private static IResult SetCohort(GatewayService g, string id, CohortInput? body)
    {
        if (body is null)
        {
            return BadRequest("body must be {\"cohort\": \"name\"} or {\"cohort\": null}");
        }
        try
        {
            return g.Store.SetDeviceCohort(id, body.Cohort) ? Results.Json(new { deviceId = id, cohort = body.Cohort }) : NotFound($"device '{id}' is unknown");
        }
        catch (ArgumentException ex)
        {
            return BadRequest(ex.Message);
        }
    }
}

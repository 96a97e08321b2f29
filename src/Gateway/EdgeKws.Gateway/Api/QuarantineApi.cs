using EdgeKws.Gateway.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// <c>GET /api/quarantine?after=&amp;limit=</c>: the messages ingest refused, with why and their raw bytes (base64). Operators only: a
/// quarantined payload is raw device bytes, possibly audio.
/// </summary>
public static class QuarantineApi
{
    /// <summary>Maps the route onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/quarantine", Quarantine).Requires(ApiRole.Operator);
    }

    private static IResult Quarantine(GatewayService g, long? after, int? limit)
    {
        if (!TryLimit(limit, 100, out int l, out IResult? bad))
        {
            return bad!;
        }
        return Results.Json(g.Store.ReadQuarantine(after ?? 0, l).Select(q => new
        {
            q.Id,
            q.ReceivedUtc,
            q.ClientId,
            q.Topic,
            q.Rejection,
            q.Reason,
            q.PayloadBytes,
            payloadBase64 = Convert.ToBase64String(q.Payload),
        }));
    }
}

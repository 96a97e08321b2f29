using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// <c>GET /api/near-misses?device=&amp;limit=</c> (viewer, read-only): the near misses devices uploaded, newest first, with the labeling
/// worker's label. <c>keywordPresent</c> is the label in plain words: true = the wake phrase was there (a keyword the device missed, a
/// positive), false = it was not (a negative), null = not labelled yet or to be decided by a person (<c>reviewReason</c>).
/// </summary>
public static class NearMissApi
{
    private const int DefaultLimit = 100;

    /// <summary>Maps the route onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/near-misses", (GatewayService g, string? device, int? limit) =>
        {
            if (!ApiArguments.TryLimit(limit, DefaultLimit, out int l, out IResult? bad))
            {
                return bad!;
            }
            IReadOnlyList<NearMissRecord> rows = g.Store.ReadNearMisses(device, l);
            return Results.Json(new { count = rows.Count, items = rows.Select(View) });
        }).Requires(ApiRole.Viewer);
    }

    private static object View(NearMissRecord r) => new
    {
        deviceId = r.DeviceId,
        sequence = r.Sequence,
        deviceTimeUtc = r.DeviceTimeUtc,
        receivedUtc = r.ReceivedUtc,
        streamOffsetMs = r.StreamOffsetMs,
        score = r.Score,
        threshold = r.Threshold,
        bandFloor = r.BandFloor,
        keyword = r.Keyword,
        modelVersion = r.ModelVersion,
        clipId = r.ClipId,
        hasAudio = r.HasAudio,
        label = r.Label?.ToString(),
        keywordPresent = r.Label switch
        {
            DetectionLabelKind.TrueAccept => true,
            DetectionLabelKind.FalseAccept => (bool?)false,
            _ => null,
        },
        candidate = r.Candidate?.ToString(),
        reviewReason = r.ReviewReason,
        provenance = r.Provenance,
        labeledUtc = r.LabeledUtc,
    };
}

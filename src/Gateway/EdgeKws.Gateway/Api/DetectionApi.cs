using System.Security.Claims;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>A label as posted.</summary>
/// <param name="DeviceId">Detection's device.</param>
/// <param name="Sequence">Detection's sequence.</param>
/// <param name="Label">TrueAccept, FalseAccept or Unknown.</param>
/// <param name="Source">What decided (a tool, an import); <c>review:&lt;name&gt;</c> only with that name's own token.</param>
/// <param name="LabeledUtc">When; defaults to the time of the request.</param>
public sealed record LabelInput(string? DeviceId, long Sequence, DetectionLabelKind? Label, string? Source, DateTimeOffset? LabeledUtc);

/// <summary>
/// The detections devices reported and the labels that decide them: <c>/api/detections</c>, <c>/api/labels</c> (read, and post a batch:
/// reviewers) and <c>/api/review-queue</c> (how many wait for a person). Deciding one queued detection is <see cref="ReviewApi"/>.
/// </summary>
public static class DetectionApi
{
    private const int MaxLabelsPerPost = 10_000;

    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/detections", Detections).Requires(ApiRole.Viewer);
        api.MapGet("/labels", (GatewayService g, string? device, int? limit) =>
            TryLimit(limit, 1000, out int l, out IResult? bad) ? Results.Json(g.Store.ReadLabels(device, l)) : bad!).Requires(ApiRole.Viewer);
        api.MapPost("/labels", PostLabels).Requires(ApiRole.Reviewer);
        api.MapGet("/review-queue", (GatewayService g) => Results.Json(new { count = g.Store.CountReviewQueue() })).Requires(ApiRole.Viewer);
    }

    private static IResult Detections(GatewayService g, TimeProvider clock, string? device, string? model, string? window, int? limit)
    {
        if (!MetricsWindows.TryParse(window ?? "24h", out TimeSpan length, out string why))
        {
            return BadRequest(why);
        }
        if (!TryLimit(limit, 100, out int l, out IResult? bad))
        {
            return bad!;
        }
        DateTimeOffset now = clock.GetUtcNow();
        return Results.Json(g.Store.ReadDetections(new DetectionQuery(now - length, now, device, model, l)));
    }

    private static IResult PostLabels(GatewayService g, TimeProvider clock, ClaimsPrincipal user, LabelInput[]? body)
    {
        if (body is null || body.Length == 0 || body.Length > MaxLabelsPerPost)
        {
            return BadRequest($"body must be a JSON array of 1..{MaxLabelsPerPost} labels {{deviceId, sequence, label, source}}");
        }
        DateTimeOffset now = clock.GetUtcNow();
        string reviewSource = LabelSources.Review(ApiAuth.NameOf(user));
        // Values out of range are refused as a whole (400 naming the item and field); missing fields and unknown detections are
        // refused per label below, so a batch stores what it can.
        for (int i = 0; i < body.Length; i++)
        {
            LabelInput x = body[i];
            if (x.DeviceId is { Length: > 128 })
            {
                return BadRequest($"[{i}].deviceId is longer than 128 characters");
            }
            if (x.Source is { Length: > MonitoringArgumentRules.MaxLabelSourceLength })
            {
                return BadRequest($"[{i}].source must be at most {MonitoringArgumentRules.MaxLabelSourceLength} characters");
            }
            if (x.LabeledUtc is { } at && (at < WireLimits.EarliestDeviceTimeUtc || at > now + WireLimits.MaxFutureSkew))
            {
                return BadRequest($"[{i}].labeledUtc {at:O} is outside {WireLimits.EarliestDeviceTimeUtc:yyyy-MM-dd} .. now + {WireLimits.MaxFutureSkew.TotalHours:0} h");
            }
            // "review:<name>" says a person decided: only that person's own token may write it (the review API does it for them).
            if (x.Source is { } src && src.StartsWith("review:", StringComparison.Ordinal) && src != reviewSource)
            {
                return BadRequest($"[{i}].source '{src}' names a reviewer: a review label carries the caller's own token name ('{reviewSource}')");
            }
        }
        var rejected = new List<object>();
        var labels = new List<DetectionLabel>();
        var index = new List<int>();
        for (int i = 0; i < body.Length; i++)
        {
            LabelInput x = body[i];
            string? problem = string.IsNullOrEmpty(x.DeviceId) ? "deviceId is required"
                : x.Sequence <= 0 ? "sequence must be positive"
                : x.Label is null ? "label is required (TrueAccept, FalseAccept or Unknown)"
                : string.IsNullOrWhiteSpace(x.Source) ? "source is required" : null;
            if (problem is not null)
            {
                rejected.Add(new { index = i, reason = problem });
                continue;
            }
            labels.Add(new DetectionLabel(x.DeviceId!, x.Sequence, x.Label!.Value, x.Source!, x.LabeledUtc ?? now));
            index.Add(i);
        }
        IReadOnlyList<string?> results = labels.Count > 0 ? g.Store.WriteLabels(labels) : [];
        int stored = 0;
        for (int i = 0; i < results.Count; i++)
        {
            if (results[i] is null)
            {
                stored++;
            }
            else
            {
                rejected.Add(new { index = index[i], reason = results[i] });
            }
        }
        return Results.Json(new { stored, rejected }, statusCode: stored == 0 ? StatusCodes.Status422UnprocessableEntity : StatusCodes.Status200OK);
    }
}

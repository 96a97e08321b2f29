using System.Security.Claims;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Labeling;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>A reviewer's decision as posted. Who decides is the caller's token name, never a field of the body.</summary>
/// <param name="Label">TrueAccept or FalseAccept.</param>
public sealed record ReviewDecisionInput(DetectionLabelKind? Label);

/// <summary>A re-review (audit) as posted; the re-reviewer is the caller's token name (it must not be who decided the label).</summary>
/// <param name="DeviceId">Detection's device.</param>
/// <param name="Sequence">Detection's sequence.</param>
/// <param name="Label">TrueAccept or FalseAccept.</param>
public sealed record ReReviewInput(string? DeviceId, long Sequence, DetectionLabelKind? Label);

/// <summary>A dataset export request (docs/gateway.md "Field datasets").</summary>
/// <param name="Name">Directory name under <c>Gateway:Labeling:DatasetDirectory</c>.</param>
/// <param name="Keyword">The keyword class name of true accepts and of near misses where the phrase was there (e.g. "hey edge").</param>
/// <param name="Split">"time" (default: per device by capture time, the latest slice held out as test) or "device" (per device by hash, 80/10/10).</param>
/// <param name="HoldoutFraction">Time split: share of each device's clips, its latest, in test (default 0.2).</param>
/// <param name="ValidationFraction">Time split: share of each device's clips, just before the test slice, in validation (default 0.1).</param>
/// <param name="TestFromUtc">Time split: an absolute cut instead of <paramref name="HoldoutFraction"/> (clips captured at or after it are test).</param>
public sealed record DatasetExportInput(string? Name, string? Keyword, string? Split = null, double? HoldoutFraction = null, double? ValidationFraction = null,
    DateTimeOffset? TestFromUtc = null);

/// <summary>
/// The review queue over HTTP (under <c>/api/review</c>): list the queued detections, play a clip, decide it, decide a near miss the
/// worker left to review, audit labels by re-review (reviewers: clip audio is the users' voices), export a field dataset and run the
/// labeling worker once (operators).
/// The reviewer recorded on a decision is the caller's token name. See docs/gateway.md and docs/labeling.md.
/// </summary>
public static class ReviewApi
{
    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        RouteGroupBuilder review = api.MapGroup("/review");
        review.MapGet("/items", Items).Requires(ApiRole.Reviewer);
        review.MapGet("/clips/{deviceId}/{clipId}/audio", Audio).Requires(ApiRole.Reviewer);
        review.MapPost("/items/{deviceId}/{sequence:long}/decision", Decide).Requires(ApiRole.Reviewer);
        review.MapPost("/near-misses/{deviceId}/{sequence:long}/decision", DecideNearMiss).Requires(ApiRole.Reviewer);
        review.MapGet("/labels", (GatewayService g, string? device, int? limit) =>
            TryLimit(limit, 100, out int l, out IResult? bad) ? Results.Json(g.Store.ReadLabelsWithProvenance(device, l)) : bad!).Requires(ApiRole.Viewer);
        review.MapGet("/audit/sample", Sample).Requires(ApiRole.Reviewer);
        review.MapPost("/audit", ReReview).Requires(ApiRole.Reviewer);
        review.MapGet("/audit", (GatewayService g) =>
        {
            AgreementCounts a = g.Store.ReadAgreement();
            return Results.Json(new
            {
                a.Compared,
                a.Agreed,
                a.Rate,
                byFirstKind = a.ByFirstKind.ToDictionary(k => k.Key, k => new { compared = k.Value.Compared, agreed = k.Value.Agreed, rate = k.Value.Compared == 0 ? (double?)null : (double)k.Value.Agreed / k.Value.Compared }),
            });
        }).Requires(ApiRole.Viewer);
        review.MapPost("/datasets", ExportDataset).Requires(ApiRole.Operator);
        review.MapGet("/status", (GatewayService g, TriggerLabelingService worker) =>
            Results.Json(new { enabled = worker.Enabled, queued = g.Store.CountReviewQueue(), counters = worker.Counters })).Requires(ApiRole.Viewer);
        review.MapPost("/run", async (TriggerLabelingService worker, CancellationToken ct) =>
        {
            try
            {
                int handled = await worker.RunOnceAsync(ct).ConfigureAwait(false);
                return Results.Json(new { handled, counters = worker.Counters });
            }
            catch (InvalidOperationException ex)
            {
                return Results.Json(new { error = ex.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        }).Requires(ApiRole.Operator);
    }

    private static IResult Items(GatewayService g, int? limit)
    {
        if (!TryLimit(limit, 100, out int l, out IResult? bad))
        {
            return bad!;
        }
        IReadOnlyList<ReviewQueueEntry> items = g.Store.ReadReviewQueue(l);
        return Results.Json(new
        {
            count = g.Store.CountReviewQueue(),
            items = items.Select(i => new
            {
                i.DeviceId,
                i.Sequence,
                i.ClipId,
                i.HasAudio,
                i.Reason,
                candidateLabel = i.Candidate,
                i.Confidence,
                i.Source,
                i.Tool,
                i.QueuedUtc,
                audioUrl = i.HasAudio && i.ClipId is not null ? AudioUrl(i.DeviceId, i.ClipId) : null,
            }),
        });
    }

    private static IResult Audio(GatewayService g, string deviceId, string clipId)
    {
        byte[]? frame = g.Store.ReadClipAudio(deviceId, clipId);
        if (frame is null)
        {
            return NotFound($"no raw audio of clip {clipId} of device '{deviceId}' is stored (unknown clip, feature-only upload without consent, erased, or deleted by retention)");
        }
        return ClipWav.TryToBytes(frame, out byte[] wav, out string why)
            ? Results.Bytes(wav, "audio/wav")
            : Results.Json(new { error = $"clip {clipId} audio is unreadable: {why}" }, statusCode: StatusCodes.Status422UnprocessableEntity);
    }

    private static IResult Decide(GatewayService g, TimeProvider clock, ClaimsPrincipal user, string deviceId, long sequence, ReviewDecisionInput? body)
    {
        if (body?.Label is null)
        {
            return BadRequest("body must be {\"label\": \"TrueAccept\" | \"FalseAccept\"} (the reviewer is the caller's token name)");
        }
        string reviewer = ApiAuth.NameOf(user);
        string? refused = g.Store.DecideReview(deviceId, sequence, body.Label.Value, reviewer, clock.GetUtcNow());
        return refused switch
        {
            null => Results.Json(new { deviceId, sequence, label = body.Label.Value, reviewer, queued = g.Store.CountReviewQueue() }),
            _ when refused.Contains("not in the review queue", StringComparison.Ordinal) => Results.Json(new { error = refused }, statusCode: StatusCodes.Status409Conflict),
            _ => BadRequest(refused),
        };
    }

    // A person's decision on a near miss the worker left to review: TrueAccept = the wake phrase was there (a keyword the device missed).
    private static IResult DecideNearMiss(GatewayService g, TimeProvider clock, ClaimsPrincipal user, string deviceId, long sequence, ReviewDecisionInput? body)
    {
        if (body?.Label is null)
        {
            return BadRequest("body must be {\"label\": \"TrueAccept\" (the wake phrase was there) | \"FalseAccept\" (it was not)} (the reviewer is the caller's token name)");
        }
        string reviewer = ApiAuth.NameOf(user);
        string? refused = g.Store.DecideNearMiss(deviceId, sequence, body.Label.Value, reviewer, clock.GetUtcNow());
        return refused switch
        {
            null => Results.Json(new { deviceId, sequence, label = body.Label.Value, keywordPresent = body.Label.Value == DetectionLabelKind.TrueAccept, reviewer }),
            _ when refused.Contains("not waiting for review", StringComparison.Ordinal) => Results.Json(new { error = refused }, statusCode: StatusCodes.Status409Conflict),
            _ when refused.Contains("is not stored", StringComparison.Ordinal) => NotFound(refused),
            _ => BadRequest(refused),
        };
    }

    /// <summary>
    /// A re-review sample for the caller: it leaves out labels the caller decided or already re-reviewed. <paramref name="kind"/>
    /// (aligner, review or other: the first label's kind, as in the agreement) samples only that kind, e.g. the automatic labels
    /// for a spot check. Each label carries its clip's <c>audioUrl</c> when raw audio is stored, so the page can play it.
    /// </summary>
    private static IResult Sample(GatewayService g, ClaimsPrincipal user, int? count, int? seed, string? kind)
    {
        if (!TryLimit(count, 20, out int n, out IResult? bad))
        {
            return bad!;
        }
        if (kind is not (null or LabelProvenanceKinds.Aligner or LabelProvenanceKinds.Review or "other"))
        {
            return BadRequest("kind must be aligner, review or other");
        }
        // Sampling everything, then filtering, keeps the sample seeded and uniform within the kind.
        IEnumerable<LabelWithProvenance> all = g.Store.SampleForReReview(ApiAuth.NameOf(user), kind is null ? n : MaxLimit, seed ?? 1);
        return Results.Json(all.Where(l => kind is null || (l.Provenance?.Kind ?? "other") == kind).Take(n).Select(l =>
        {
            // The first decided clip with audio at or after (device, sequence): this label's own clip when it has raw audio.
            LabelledClip? clip = g.Store.ReadLabelledClips(l.Label.DeviceId, l.Label.Sequence - 1, 1) is [{ } c] && c.Label.DeviceId == l.Label.DeviceId
                && c.Label.Sequence == l.Label.Sequence ? c : null;
            return new
            {
                l.Label,
                l.Provenance,
                clipId = clip?.ClipId,
                audioUrl = clip is null ? null : AudioUrl(l.Label.DeviceId, clip.ClipId),
            };
        }).ToList());
    }

    private static string AudioUrl(string deviceId, string clipId) =>
        $"/api/review/clips/{Uri.EscapeDataString(deviceId)}/{Uri.EscapeDataString(clipId)}/audio";

    private static IResult ReReview(GatewayService g, TimeProvider clock, ClaimsPrincipal user, ReReviewInput? body)
    {
        if (body is null || string.IsNullOrEmpty(body.DeviceId) || body.Label is null)
        {
            return BadRequest("body must be {deviceId, sequence, label: TrueAccept | FalseAccept} (the re-reviewer is the caller's token name)");
        }
        string? refused = g.Store.AddReReview(body.DeviceId, body.Sequence, body.Label.Value, ApiAuth.NameOf(user), clock.GetUtcNow());
        return refused is null ? Results.Json(new { stored = true }, statusCode: StatusCodes.Status201Created) : BadRequest(refused);
    }

    private static IResult ExportDataset(GatewayService g, LabelingOptions options, TimeProvider clock, DatasetExportInput? body)
    {
        if (body is null || !GatewayDatasetExport.IsValidName(body.Name) || string.IsNullOrWhiteSpace(body.Keyword) || body.Keyword.Length > Shared.Contracts.WireLimits.MaxTextLength)
        {
            return BadRequest("body must be {\"name\": \"1..64 of a-z A-Z 0-9 - _ . (not starting with .)\", \"keyword\": \"hey edge\"} with optional \"split\" " +
                "(\"time\" (default) | \"device\"), \"holdoutFraction\" (0.2), \"validationFraction\" (0.1), \"testFromUtc\"");
        }
        var split = new FieldDatasetOptions
        {
            Split = body.Split ?? FieldSplits.Time,
            HoldoutFraction = body.HoldoutFraction ?? FieldDatasetOptions.DefaultHoldoutFraction,
            ValidationFraction = body.ValidationFraction ?? FieldDatasetOptions.DefaultValidationFraction,
            TestFromUtc = body.TestFromUtc,
        };
        if (split.Refuse() is { } refused)
        {
            return BadRequest(refused);
        }
        string dir = Path.Combine(Path.GetFullPath(options.DatasetDirectory), body.Name!);
        try
        {
            GatewayExportResult r = GatewayDatasetExport.Export(g.Store, dir, body.Keyword, clock, split);
            return Results.Json(r, statusCode: StatusCodes.Status201Created);
        }
        catch (InvalidOperationException ex)
        {
            return Results.Json(new { error = ex.Message }, statusCode: StatusCodes.Status409Conflict);
        }
        catch (ArgumentException ex)
        {
            return BadRequest(ex.Message);
        }
    }
}

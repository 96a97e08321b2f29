using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiArguments;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary>One trial of a posted evaluation.</summary>
/// <param name="Score">Score.</param>
/// <param name="Positive">Keyword present.</param>
public sealed record TrialInput(float Score, bool Positive);

/// <summary>An offline evaluation as posted.</summary>
/// <param name="ModelVersion">Model.</param>
/// <param name="Name">Evaluation set.</param>
/// <param name="NegativeHours">Hours of negative audio (0 if unknown).</param>
/// <param name="Trials">The scored trials.</param>
public sealed record EvaluationInput(string? ModelVersion, string? Name, double NegativeHours, TrialInput[]? Trials);

/// <summary>
/// Offline evaluations under <c>/api/evaluations</c>: post a model's scored trials (operators), list the stored ones. Their DET curve is
/// <c>/api/metrics/det</c> (<see cref="MetricsApi"/>).
/// </summary>
public static class EvaluationApi
{
    private const int MaxTrials = 1_000_000;

    /// <summary>Longest evaluation set name.</summary>
    public const int MaxEvaluationNameLength = 128;

    /// <summary>Largest <c>negativeHours</c> of a posted evaluation (a century of audio; more is a unit mistake).</summary>
    public const double MaxNegativeHours = 1_000_000;

    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapPost("/evaluations", PostEvaluation).Requires(ApiRole.Operator);
        api.MapGet("/evaluations", (GatewayService g, string? model, int? limit) =>
            TryLimit(limit, 20, out int l, out IResult? bad)
                ? Results.Json(g.Store.ReadEvaluations(model, l).Select(e => new { e.Id, e.ModelVersion, e.Name, e.CreatedUtc, e.NegativeHours, trials = e.Scores.Length, positives = e.Positives.Count(p => p) }))
                : bad!).Requires(ApiRole.Viewer);
    }

    private static IResult PostEvaluation(GatewayService g, TimeProvider clock, EvaluationInput? body)
    {
        if (body is null)
        {
            return BadRequest($"body must be {{modelVersion, name, negativeHours, trials: [{{score, positive}}] (1..{MaxTrials})}}");
        }
        string? problem = string.IsNullOrEmpty(body.ModelVersion) || body.ModelVersion.Length > WireLimits.MaxModelVersionLength
                ? $"modelVersion must be 1..{WireLimits.MaxModelVersionLength} characters"
            : string.IsNullOrEmpty(body.Name) || body.Name.Length > MaxEvaluationNameLength || body.Name.Any(char.IsControl)
                ? $"name must be 1..{MaxEvaluationNameLength} characters without control characters"
            : !(body.NegativeHours is >= 0 and <= MaxNegativeHours) ? $"negativeHours must be in 0..{MaxNegativeHours:0}"
            : body.Trials is null || body.Trials.Length == 0 || body.Trials.Length > MaxTrials ? $"trials must hold 1..{MaxTrials} {{score, positive}}"
            : body.Trials.Any(t => !float.IsFinite(t.Score)) ? "trials: every score must be a finite number"
            : null;
        if (problem is not null)
        {
            return BadRequest(problem);
        }
        var trials = body.Trials!.Select(t => new ScoredTrial(t.Score, t.Positive)).ToArray();
        if (!DetCurve.TryCompute(trials, body.NegativeHours, out _, out string why))
        {
            return BadRequest(why);
        }
        long id = g.Store.AddEvaluation(new EvaluationRecord(0, body.ModelVersion!, body.Name!, clock.GetUtcNow(), body.NegativeHours,
            body.Trials!.Select(t => t.Score).ToArray(), body.Trials!.Select(t => t.Positive).ToArray()));
        return Results.Json(new { id }, statusCode: StatusCodes.Status201Created);
    }
}

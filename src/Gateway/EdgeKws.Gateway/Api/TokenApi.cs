using System.Security.Claims;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeKws.Gateway.Api;

/// <summary>A token as requested.</summary>
/// <param name="Name">Who will hold it.</param>
/// <param name="Role">viewer, reviewer, operator or admin.</param>
public sealed record TokenInput(string? Name, string? Role);

/// <summary>
/// API tokens over HTTP, for admins: <c>GET /api/tokens</c> (never the token, never its hash), <c>POST /api/tokens</c> (the token
/// is in this one answer only), <c>DELETE /api/tokens/{id}</c> (revoke). The host CLI (<c>token create|list|revoke</c>) does the
/// same on the store directly, which is how the first token is made.
/// </summary>
public static class TokenApi
{
    /// <summary>Maps the endpoints onto the <c>/api</c> group.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/tokens", (GatewayService g, bool? all) => Results.Json(g.Store.ReadApiTokens(all ?? false).Select(View))).Requires(ApiRole.Admin);
        api.MapPost("/tokens", Create).Requires(ApiRole.Admin);
        api.MapDelete("/tokens/{id:long}", (GatewayService g, TimeProvider clock, long id) =>
            g.Store.RevokeApiToken(id, clock.GetUtcNow())
                ? Results.Json(new { id, revoked = true })
                : Results.Json(new { error = $"no active token has id {id}" }, statusCode: StatusCodes.Status404NotFound)).Requires(ApiRole.Admin);
    }

    /// <summary>What a listing shows of a token.</summary>
    public static object View(ApiTokenRecord t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return new { t.Id, t.Name, role = ApiToken.RoleName(t.Role), t.CreatedUtc, t.CreatedBy, t.RevokedUtc, active = t.RevokedUtc is null };
    }

    private static IResult Create(GatewayService g, TimeProvider clock, ClaimsPrincipal user, TokenInput? body)
    {
        if (body is null)
        {
            return BadRequest("body must be {\"name\": \"...\", \"role\": \"viewer|reviewer|operator|admin\"}");
        }
        if (ApiToken.RefuseName(body.Name) is { } why)
        {
            return BadRequest(why);
        }
        if (!ApiToken.TryParseRole(body.Role, out ApiRole role))
        {
            return BadRequest("role must be viewer, reviewer, operator or admin");
        }
        string token = ApiToken.Create();
        try
        {
            DateTimeOffset now = clock.GetUtcNow();
            long id = g.Store.AddApiToken(body.Name!, role, ApiToken.Hash(token), now, ApiAuth.NameOf(user));
            return Results.Json(new { id, name = body.Name, role = ApiToken.RoleName(role), createdUtc = now, token }, statusCode: StatusCodes.Status201Created);
        }
        catch (InvalidOperationException ex)
        {
            return Results.Json(new { error = ex.Message }, statusCode: StatusCodes.Status409Conflict);
        }
    }

    private static IResult BadRequest(string error) => Results.Json(new { error }, statusCode: StatusCodes.Status400BadRequest);
}

using System.Security.Claims;
using System.Text.Encodings.Web;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeKws.Gateway.Api;

/// <summary>The role an endpoint needs (endpoint metadata; the route-table test and the start-up check read it).</summary>
/// <param name="Role">The least role that may call it.</param>
public sealed record RequiredRole(ApiRole Role);

/// <summary>Marks an endpoint any caller may use without a token (<c>/healthz</c>, the login form).</summary>
public sealed class OpenRoute
{
    /// <summary>The one instance.</summary>
    public static readonly OpenRoute Instance = new();

    private OpenRoute()
    {
    }
}

/// <summary>
/// Authentication and roles of the HTTP API and dashboard. A caller presents an API token as <c>Authorization: Bearer</c> or,
/// from the dashboard pages, as the HttpOnly session cookie the login form sets (SameSite=Strict). The store is asked on every
/// request, so a revoked token stops working at once on every instance. Cookie sessions must also send the anti-forgery header
/// (<see cref="ApiToken.AntiForgery"/>) on every state-changing call. Every endpoint declares its role with
/// <see cref="Requires{TBuilder}"/> or is marked <see cref="Open{TBuilder}"/>; <see cref="VerifyEveryRouteDeclaresAccess"/> refuses
/// to start a gateway with an endpoint that does neither. docs/gateway.md, "Authentication and roles", has the role table.
/// </summary>
public static class ApiAuth
{
    /// <summary>The authentication scheme name.</summary>
    public const string Scheme = "EdgeKwsToken";

    /// <summary>The session cookie the login form sets (its value is the token; HttpOnly, SameSite=Strict).</summary>
    public const string CookieName = "edgekws_session";

    /// <summary>The header a cookie session sends on state-changing calls (value from <c>GET /api/session</c>).</summary>
    public const string AntiForgeryHeader = "X-EdgeKws-Antiforgery";

    /// <summary>Claim: the token's own role (the role claims list it and every role below it).</summary>
    public const string RoleClaim = "edgekws:role";

    /// <summary>Claim: how the token came ("bearer" or "cookie").</summary>
    public const string ViaClaim = "edgekws:via";

    /// <summary>How long a login lasts in the browser.</summary>
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);

    internal const string StoreDownItem = "edgekws.auth.store-down";
    internal const string TokenItem = "edgekws.auth.token";

    /// <summary>The endpoint needs a token of at least <paramref name="role"/>.</summary>
    public static TBuilder Requires<TBuilder>(this TBuilder builder, ApiRole role) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(PolicyName(role)).WithMetadata(new RequiredRole(role));

    /// <summary>The endpoint answers without a token.</summary>
    public static TBuilder Open<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AllowAnonymous().WithMetadata(OpenRoute.Instance);

    /// <summary>The authorization policy name of a role.</summary>
    public static string PolicyName(ApiRole role) => "role:" + ApiToken.RoleName(role);

    /// <summary>The role a signed-in caller has, or null.</summary>
    public static ApiRole? RoleOf(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.FindFirst(RoleClaim)?.Value is { } r && ApiToken.TryParseRole(r, out ApiRole role) ? role : null;
    }

    /// <summary>The signed-in caller's token name (the reviewer on labels, the actor in the audit log).</summary>
    public static string NameOf(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.Identity?.IsAuthenticated == true && user.Identity.Name is { } n ? n : throw new InvalidOperationException("the caller is not signed in");
    }

    /// <summary>Registers the token scheme and one policy per role.</summary>
    public static void AddServices(IServiceCollection services)
    {
        services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(Scheme, null);
        services.AddAuthorization(o =>
        {
            foreach (ApiRole role in Enum.GetValues<ApiRole>())
            {
                o.AddPolicy(PolicyName(role), p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireRole(ApiToken.RoleName(role)));
            }
        });
    }

    /// <summary>
    /// A cookie session's state-changing call without the right anti-forgery header is refused (403) before authorization. Bearer
    /// calls need none: a browser never adds an Authorization header on its own, so another site cannot make one.
    /// </summary>
    public static async Task CheckAntiForgeryAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (!IsSafeMethod(context.Request.Method) && context.GetEndpoint()?.Metadata.GetMetadata<OpenRoute>() is null
            && context.User.FindFirst(ViaClaim)?.Value == "cookie" && context.Items[TokenItem] is string token
            && !ApiToken.FixedTimeEquals(context.Request.Headers[AntiForgeryHeader].ToString(), ApiToken.AntiForgery(token)))
        {
            await Results.Json(new { error = $"anti-forgery check failed: a signed-in page must send the {AntiForgeryHeader} header from GET /api/session" },
                statusCode: StatusCodes.Status403Forbidden).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        await next(context).ConfigureAwait(false);
    }

    /// <summary>GET, HEAD, OPTIONS and TRACE change nothing; every other method is a state change.</summary>
    public static bool IsSafeMethod(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method);

    /// <summary>The login form, the logout and <c>GET /api/session</c>.</summary>
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(api);
        app.MapGet("/login", (string? returnUrl) => LoginPage.Result(StatusCodes.Status200OK, returnUrl, null)).Open();
        app.MapPost("/login", LoginAsync).Open();
        app.MapPost("/logout", (HttpContext context) =>
        {
            context.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", Secure = context.Request.IsHttps, HttpOnly = true, SameSite = SameSiteMode.Strict });
            return Results.Redirect("/login", permanent: false, preserveMethod: false);
        }).Open();
        api.MapGet("/session", (HttpContext context, ClaimsPrincipal user) => Results.Json(new
        {
            name = NameOf(user),
            role = RoleOf(user) is { } r ? ApiToken.RoleName(r) : null,
            via = user.FindFirst(ViaClaim)?.Value,
            antiForgery = user.FindFirst(ViaClaim)?.Value == "cookie" && context.Items[TokenItem] is string t ? ApiToken.AntiForgery(t) : null,
            antiForgeryHeader = AntiForgeryHeader,
        })).Requires(ApiRole.Viewer);
    }

    /// <summary>
    /// Throws naming every endpoint that neither declares a role nor is marked open: a route added without a role must fail at
    /// start, not answer anonymous callers.
    /// </summary>
    public static void VerifyEveryRouteDeclaresAccess(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        string[] undeclared = [.. app.DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<RequiredRole>() is null && e.Metadata.GetMetadata<OpenRoute>() is null)
            .Select(e => e.DisplayName ?? e.RoutePattern.RawText ?? "?")];
        if (undeclared.Length > 0)
        {
            throw new InvalidOperationException("endpoints without a declared role (.Requires(role) or .Open()): " + string.Join(", ", undeclared));
        }
    }

    private static async Task<IResult> LoginAsync(HttpContext context, GatewayService gateway)
    {
        // A cross-site form must not sign a victim's browser in with the attacker's token (login CSRF).
        string origin = context.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && !string.Equals(origin, $"{context.Request.Scheme}://{context.Request.Host}", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Json(new { error = $"login refused: Origin {origin} is not this gateway" }, statusCode: StatusCodes.Status403Forbidden);
        }
        if (!context.Request.HasFormContentType)
        {
            return LoginPage.Result(StatusCodes.Status400BadRequest, null, "the login form posts application/x-www-form-urlencoded");
        }
        IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        string token = form["token"].ToString().Trim();
        string returnUrl = LoginPage.SafeReturnUrl(form["returnUrl"].ToString());
        if (!ApiToken.LooksLikeToken(token) || !gateway.Store.TryGetActiveApiToken(ApiToken.Hash(token), out ApiTokenRecord? record))
        {
            return LoginPage.Result(StatusCodes.Status401Unauthorized, returnUrl, "unknown or revoked token");
        }
        AuditLog.SetActor(context, record!.Name, record.Role);
        context.Response.Cookies.Append(CookieName, token, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            MaxAge = SessionLifetime,
            IsEssential = true,
        });
        return Results.Redirect(returnUrl, permanent: false, preserveMethod: false);
    }
}

/// <summary>
/// Reads the token from <c>Authorization: Bearer</c> (preferred) or the session cookie, looks its SHA-256 up in the store, and
/// signs the caller in with its name and its role plus every role below it (so a policy for "reviewer" admits operators).
/// Answers 401 with <c>WWW-Authenticate: Bearer</c> (a browser asking for a page gets the login form with it), 403 naming the
/// role needed, and 503 when the store cannot be read.
/// </summary>
internal sealed class TokenAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    GatewayService gateway) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = null;
        string via;
        string authorization = Request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.Fail("the Authorization header must be 'Bearer <token>'"));
            }
            token = authorization["Bearer ".Length..].Trim();
            via = "bearer";
        }
        else if (Request.Cookies.TryGetValue(ApiAuth.CookieName, out string? cookie) && cookie.Length > 0)
        {
            token = cookie;
            via = "cookie";
        }
        else
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (!ApiToken.LooksLikeToken(token))
        {
            return Task.FromResult(AuthenticateResult.Fail("not an EdgeKws API token"));
        }
        ApiTokenRecord? record;
        try
        {
            if (!gateway.Store.TryGetActiveApiToken(ApiToken.Hash(token), out record))
            {
                return Task.FromResult(AuthenticateResult.Fail("unknown or revoked token"));
            }
        }
#pragma warning disable CA1031 // Any store failure (SQLite error, PostgreSQL down, store not open yet) means "cannot check now": 503, not 500.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Context.Items[ApiAuth.StoreDownItem] = ex.Message;
            Logger.LogWarning("cannot check an API token: the store is unavailable: {Reason}", ex.Message);
            return Task.FromResult(AuthenticateResult.Fail("the store is unavailable"));
        }
        Context.Items[ApiAuth.TokenItem] = token;
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, record!.Name),
            new(ClaimTypes.NameIdentifier, record.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(ApiAuth.RoleClaim, ApiToken.RoleName(record.Role)),
            new(ApiAuth.ViaClaim, via),
        };
        claims.AddRange(Enum.GetValues<ApiRole>().Where(r => r <= record.Role).Select(r => new Claim(ClaimTypes.Role, ApiToken.RoleName(r))));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, ApiAuth.Scheme, ClaimTypes.Name, ClaimTypes.Role));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, ApiAuth.Scheme)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items[ApiAuth.StoreDownItem] is string reason)
        {
            await Results.Json(new { error = "cannot check the API token: the store is unavailable: " + reason }, statusCode: StatusCodes.Status503ServiceUnavailable)
                .ExecuteAsync(Context).ConfigureAwait(false);
            return;
        }
        AuthenticateResult result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        string? failure = result.Failure?.Message;
        Response.Headers.WWWAuthenticate = failure is null ? "Bearer" : $"Bearer error=\"invalid_token\", error_description=\"{failure}\"";
        if (HttpMethods.IsGet(Request.Method) && WantsPage(Request))
        {
            // A browser opening a dashboard page gets the login form (still 401: the page itself was not served).
            await LoginPage.Result(StatusCodes.Status401Unauthorized, Request.Path + Request.QueryString, failure).ExecuteAsync(Context).ConfigureAwait(false);
            return;
        }
        await Results.Json(new { error = failure is null ? "authentication required: send 'Authorization: Bearer <token>' (create one with: EdgeKws.Gateway.Host token create)" : failure + " (401)" },
            statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(Context).ConfigureAwait(false);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        ApiRole? needed = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<RequiredRole>().Select(r => (ApiRole?)r.Role).Max();
        ApiRole? has = ApiAuth.RoleOf(Context.User);
        await Results.Json(new
        {
            error = $"token '{Context.User.Identity?.Name}' has role {(has is { } h ? ApiToken.RoleName(h) : "?")}; this call needs {(needed is { } n ? ApiToken.RoleName(n) : "another role")}",
        }, statusCode: StatusCodes.Status403Forbidden).ExecuteAsync(Context).ConfigureAwait(false);
    }

    private static bool WantsPage(HttpRequest request) =>
        !request.Path.StartsWithSegments("/api", StringComparison.Ordinal) && request.Path != "/metrics"
        && request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
}

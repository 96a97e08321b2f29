using System.Reflection;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// The audit log: every state-changing HTTP call (any method but GET, HEAD, OPTIONS, TRACE), whether it succeeded or was refused,
/// becomes one store row: who (token name and role, null when anonymous), the route, the arguments that matter, the status and the
/// time. The row is written when the response starts, so a client that has the answer knows the row is in the store. Readable at
/// <c>GET /api/audit-log</c> (operators) and on <c>/dashboard/audit.html</c>.
/// </summary>
public static class AuditLog
{
    private const string ArgumentsItem = "edgekws.audit.arguments";
    private const string ActorItem = "edgekws.audit.actor";
    private const int MaxStringChars = 200;
    private const int MaxArrayItems = 10;
    private const int MaxDepth = 5;

    /// <summary>Default and largest page of <c>GET /api/audit-log</c>.</summary>
    public const int DefaultPage = 50, MaxPage = 1000;

    /// <summary>Records the caller of a call that signs in (the login form) where the request itself carried no token yet.</summary>
    public static void SetActor(HttpContext context, string name, ApiRole role)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[ActorItem] = (name, role);
    }

    /// <summary>
    /// Endpoint filter factory for the API group: on state-changing calls it records the endpoint's own arguments (route values,
    /// query and body, not the services it is handed) in a compact form: strings cut at 200 characters, arrays longer than 10
    /// items as their count and first 3. It runs after binding, so a call refused before binding is recorded by route and query.
    /// </summary>
    public static EndpointFilterDelegate ArgumentsFilter(EndpointFilterFactoryContext factory, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(factory);
        IServiceProviderIsService? services = factory.ApplicationServices.GetService<IServiceProviderIsService>();
        (string Name, int Index)[] picks = [.. factory.MethodInfo.GetParameters()
            .Select((p, i) => (Parameter: p, Index: i))
            .Where(x => IsArgument(x.Parameter, services))
            .Select(x => (x.Parameter.Name ?? "arg" + x.Index, x.Index))];
        return async context =>
        {
            if (!ApiAuth.IsSafeMethod(context.HttpContext.Request.Method) && picks.Length > 0)
            {
                JsonSerializerOptions json = context.HttpContext.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
                var o = new JsonObject();
                foreach ((string name, int index) in picks)
                {
                    object? value = index < context.Arguments.Count ? context.Arguments[index] : null;
                    o[name] = value is null ? null : Summarize(JsonSerializer.SerializeToNode(value, value.GetType(), json), 0);
                }
                context.HttpContext.Items[ArgumentsItem] = o.ToJsonString();
            }
            return await next(context).ConfigureAwait(false);
        };
    }

    /// <summary>Middleware (after authentication, before authorization): writes the row of every state-changing call.</summary>
    public static async Task RecordAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (ApiAuth.IsSafeMethod(context.Request.Method))
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        int written = 0;
        context.Response.OnStarting(() =>
        {
            if (Interlocked.Exchange(ref written, 1) == 0)
            {
                Write(context, context.Response.StatusCode);
            }
            return Task.CompletedTask;
        });
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch
        {
            // Kestrel skips OnStarting when the application throws; the answer will be a 500.
            if (Interlocked.Exchange(ref written, 1) == 0)
            {
                Write(context, StatusCodes.Status500InternalServerError);
            }
            throw;
        }
    }

    /// <summary>Maps <c>GET /api/audit-log?limit=&amp;before=</c> (operators): newest first; <c>next</c> is the <c>before</c> of the next page.</summary>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/audit-log", (GatewayService g, int? limit, long? before) =>
        {
            int n = limit ?? DefaultPage;
            if (n is < 1 or > MaxPage)
            {
                return Results.Json(new { error = $"limit must be in 1..{MaxPage}" }, statusCode: StatusCodes.Status400BadRequest);
            }
            if (before is <= 0)
            {
                return Results.Json(new { error = "before must be a positive audit entry id" }, statusCode: StatusCodes.Status400BadRequest);
            }
            IReadOnlyList<AuditRecord> rows = g.Store.ReadAudit(before, n);
            return Results.Json(new
            {
                items = rows.Select(r => new
                {
                    r.Id,
                    r.Entry.TimeUtc,
                    r.Entry.Actor,
                    role = r.Entry.Role is { } role ? ApiToken.RoleName(role) : null,
                    r.Entry.Method,
                    r.Entry.Route,
                    r.Entry.Path,
                    arguments = r.Entry.Arguments is { } a ? JsonNode.Parse(a) : null,
                    r.Entry.Status,
                    r.Entry.Remote,
                }),
                next = rows.Count == n ? rows[^1].Id : (long?)null,
            });
        }).Requires(ApiRole.Operator);
    }

    private static void Write(HttpContext context, int status)
    {
        string? actor = null;
        ApiRole? role = null;
        if (context.Items[ActorItem] is ValueTuple<string, ApiRole> signedIn)
        {
            (actor, role) = signedIn;
        }
        else if (context.User.Identity?.IsAuthenticated == true)
        {
            actor = context.User.Identity.Name;
            role = ApiAuth.RoleOf(context.User);
        }
        string path = context.Request.Path.Value ?? "/";
        string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? path;
        string? arguments = context.Items[ArgumentsItem] as string ?? RequestArguments(context);
        var entry = new AuditEntry(context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow(), actor, role, context.Request.Method, route, path, arguments, status,
            context.Connection.RemoteIpAddress?.ToString());
        try
        {
            context.RequestServices.GetRequiredService<GatewayService>().Store.AppendAudit(entry);
        }
#pragma warning disable CA1031 // The call has had its effect; a store that cannot take its row is logged loudly, the answer stands.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeKws.Gateway.Audit")
                .LogError(ex, "audit row NOT stored: {Method} {Path} by {Actor} -> {Status}: {Arguments}", entry.Method, entry.Path, entry.Actor ?? "anonymous", status, arguments);
        }
    }

    /// <summary>What a call that never reached its endpoint carried: route values and query (never the body, never headers).</summary>
    private static string? RequestArguments(HttpContext context)
    {
        var o = new JsonObject();
        foreach ((string key, object? value) in context.Request.RouteValues)
        {
            o[key] = Summarize(JsonValue.Create(value?.ToString()), 0);
        }
        foreach ((string key, Microsoft.Extensions.Primitives.StringValues value) in context.Request.Query)
        {
            o[key] = Summarize(JsonValue.Create(value.ToString()), 0);
        }
        return o.Count == 0 ? null : o.ToJsonString();
    }

    private static bool IsArgument(ParameterInfo p, IServiceProviderIsService? services)
    {
        Type t = p.ParameterType;
        if (t == typeof(HttpContext) || t == typeof(HttpRequest) || t == typeof(HttpResponse) || t == typeof(CancellationToken) || t == typeof(ClaimsPrincipal)
            || typeof(Stream).IsAssignableFrom(t) || p.GetCustomAttributes().Any(a => a.GetType().Name.StartsWith("FromServices", StringComparison.Ordinal)))
        {
            return false;
        }
        return services?.IsService(t) != true;
    }

    private static JsonNode? Summarize(JsonNode? node, int depth)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonValue v when v.TryGetValue(out string? s):
                return s.Length <= MaxStringChars ? JsonValue.Create(s) : JsonValue.Create($"{s[..MaxStringChars]}… ({s.Length} chars)");
            case JsonValue v:
                return v.DeepClone();
            case JsonArray a when depth >= MaxDepth:
                return JsonValue.Create($"[{a.Count} items]");
            case JsonArray a when a.Count > MaxArrayItems:
                return new JsonObject { ["count"] = a.Count, ["first"] = new JsonArray([.. a.Take(3).Select(x => Summarize(x, depth + 1))]) };
            case JsonArray a:
                return new JsonArray([.. a.Select(x => Summarize(x, depth + 1))]);
            case JsonObject o when depth >= MaxDepth:
                return JsonValue.Create("{…}");
            case JsonObject o:
                var copy = new JsonObject();
                foreach ((string key, JsonNode? value) in o)
                {
                    copy[key] = Summarize(value, depth + 1);
                }
                return copy;
            default:
                return null;
        }
    }
}

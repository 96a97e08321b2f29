using EdgeKws.Gateway.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static EdgeKws.Gateway.Api.ApiErrors;

namespace EdgeKws.Gateway.Api;

/// <summary><c>GET /</c> and <c>GET /dashboard/{file}</c> (viewers): the dashboard's pages, scripts and styles, embedded in this assembly.</summary>
public static class DashboardApi
{
    /// <summary>Maps the routes onto <paramref name="app"/>'s root.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/", () => Asset("index.html")).Requires(ApiRole.Viewer);
        app.MapGet("/dashboard/{file}", (string file) => Asset(file)).Requires(ApiRole.Viewer);
    }

    private static IResult Asset(string file)
    {
        string? type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => null,
        };
        Stream? s = type is null ? null : typeof(DashboardApi).Assembly.GetManifestResourceStream("dashboard/" + file);
        return s is null ? NotFound($"no dashboard file '{file}'") : Results.Stream(s, type);
    }
}

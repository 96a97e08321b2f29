using Microsoft.AspNetCore.Http;

namespace EdgeKws.Gateway.Api;

/// <summary>The error replies every <c>*Api</c> class gives: <c>{"error": "..."}</c> with the status, so clients read one shape.</summary>
internal static class ApiErrors
{
    /// <summary>400 with <paramref name="error"/>.</summary>
    public static IResult BadRequest(string error) => Results.Json(new { error }, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>404 with <paramref name="error"/>.</summary>
    public static IResult NotFound(string error) => Results.Json(new { error }, statusCode: StatusCodes.Status404NotFound);
}

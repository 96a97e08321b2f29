using System.Net;
using Microsoft.AspNetCore.Http;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// The login form: one field for an API token, posted to <c>/login</c>, which sets the session cookie and returns to the page
/// asked for. Self-contained (inline style) because every other dashboard file needs a signed-in viewer.
/// </summary>
internal static class LoginPage
{
    /// <summary>The page with <paramref name="statusCode"/> (401 when it stands in for a page that needs a login).</summary>
    public static IResult Result(int statusCode, string? returnUrl, string? message)
    {
        string html = $$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>EdgeKws gateway: log in</title>
            <style>
              body { font: 15px system-ui, sans-serif; background: #f5f6f8; color: #202124; margin: 0; }
              main { max-width: 440px; margin: 12vh auto; background: #fff; padding: 24px 28px; border-radius: 8px; box-shadow: 0 1px 3px #0003; }
              h1 { font-size: 20px; margin: 0 0 12px; }
              input[type=password] { width: 100%; box-sizing: border-box; padding: 8px; font: 14px monospace; margin: 8px 0 14px; }
              button { padding: 8px 18px; font-size: 14px; }
              .error { color: #c5221f; }
              .muted { color: #5f6368; font-size: 13px; }
            </style>
            </head>
            <body>
            <main>
              <h1>EdgeKws gateway</h1>
              <form id="login" method="post" action="/login">
                <label for="token">API token</label>
                <input id="token" name="token" type="password" autocomplete="current-password" placeholder="ekws_..." required autofocus>
                <input type="hidden" name="returnUrl" value="{{WebUtility.HtmlEncode(SafeReturnUrl(returnUrl))}}">
                <button type="submit">Log in</button>
              </form>
              <p id="login-error" class="error">{{WebUtility.HtmlEncode(message ?? string.Empty)}}</p>
              <p class="muted">An administrator creates tokens with <code>EdgeKws.Gateway.Host token create --name NAME --role viewer|reviewer|operator|admin</code>.
                The token is kept in an HttpOnly cookie for this browser for 12 hours.</p>
            </main>
            </body>
            </html>
            """;
        return Results.Content(html, "text/html; charset=utf-8", System.Text.Encoding.UTF8, statusCode);
    }

    /// <summary>A local path to return to after login ("/" for anything else: never another site, never a scheme-relative URL).</summary>
    public static string SafeReturnUrl(string? url) =>
        url is { Length: > 0 and <= 2048 } && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
        && !url.Any(char.IsControl) && !url.StartsWith("/login", StringComparison.Ordinal)
            ? url
            : "/";
}

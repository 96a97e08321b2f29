using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EdgeKws.Gateway.Api;

/// <summary>
/// Builds the whole gateway as one ASP.NET Core application: <see cref="GatewayService"/> (broker, ingest, store),
/// <see cref="AlertService"/>, <see cref="RetentionService"/>, <see cref="SkewService"/>, and Kestrel serving the JSON API, <c>/metrics</c>, <c>/healthz</c> and the dashboard.
/// The exe and the tests both call <see cref="Build"/>, so they run the same thing.
/// </summary>
public static class GatewayWebHost
{
    /// <summary>
    /// Configuration: appsettings.json (content root = working directory), EDGEKWS_ environment variables, then
    /// <paramref name="args"/> (<c>--Gateway:Http:Port=8081</c>). <paramref name="configure"/> may replace services,
    /// e.g. the <see cref="TimeProvider"/> the alert rules use.
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        builder.Configuration.AddEnvironmentVariables("EDGEKWS_");
        builder.Configuration.AddCommandLine(args);
        var options = new GatewayOptions();
        builder.Configuration.GetSection(GatewayOptions.SectionName).Bind(options);
        options.Validate();

        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(options.Monitoring);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<GatewayService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GatewayService>());
        builder.Services.AddSingleton<AlertService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AlertService>());
        builder.Services.AddSingleton(options.Retention);
        builder.Services.AddSingleton<RetentionService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RetentionService>());
        builder.Services.AddSingleton<SkewService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SkewService>());
        builder.Services.AddSingleton(options.Labeling);
        builder.Services.AddSingleton<Labeling.TriggerLabelingService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Labeling.TriggerLabelingService>());
        ModelApi.AddServices(builder.Services, options);
        builder.Services.Configure<JsonOptions>(o => ConfigureJson(o.SerializerOptions));
        // Binding failures (malformed JSON, a date that does not parse, "limit=abc") throw, so BadRequestAsJson can answer 400 naming the field.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        ApiAuth.AddServices(builder.Services);
        builder.Services.AddHostedService<ApiAccessNotice>();
        X509Certificate2? certificate = options.Http.Tls.Enabled ? HttpsCertificate(options.Http.Tls) : null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(options.Http.BindAddress), options.Http.Port, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        configure?.Invoke(builder);

        WebApplication app = builder.Build();
        // Order: who is calling (authentication) -> every state change is audited, refused ones too -> bad input answered as 400 JSON
        // (inside the audit, so its row has the 400) -> cookie sessions prove their page (anti-forgery) -> roles (authorization).
        app.UseRouting();
        app.Use(SecurityHeadersAsync);
        app.UseAuthentication();
        app.Use(AuditLog.RecordAsync);
        app.Use(BadRequestAsJsonAsync);
        app.Use(ApiAuth.CheckAntiForgeryAsync);
        app.UseAuthorization();
        GatewayApi.Map(app);
        ApiAuth.VerifyEveryRouteDeclaresAccess(app);
        return app;
    }

    /// <summary>The HTTPS certificate from its PEM files (a PKCS#12 round trip makes the key usable by SslStream on every platform).</summary>
    private static X509Certificate2 HttpsCertificate(HttpTlsOptions tls)
    {
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(tls.CertificatePemPath!, tls.KeyPemPath);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A request the endpoint could not bind (bad JSON, a value of the wrong type, too large a body) is answered with
    /// its status and <c>{error}</c> naming what was wrong (the JSON path of the field, or the parameter), never a bare 400 or a 500.</summary>
    private static async Task BadRequestAsJsonAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            string why = ex.InnerException is System.Text.Json.JsonException json ? $"body: {json.Message}" : ex.Message;
            await Results.Json(new { error = why }, statusCode: ex.StatusCode).ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    /// <summary>Pages may not be framed by another site (clickjacking of the decision buttons), types are not sniffed, and no
    /// address leaks to another site in a Referer. (Not "no-referrer": with it a browser sends "Origin: null" on the login form's
    /// POST, and the login's cross-site check could not tell it from a forged one.)</summary>
    private static Task SecurityHeadersAsync(HttpContext context, RequestDelegate next)
    {
        context.Response.Headers.XFrameOptions = "DENY";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers["Referrer-Policy"] = "same-origin";
        return next(context);
    }

    /// <summary>The JSON settings of the API: camelCase, enums as strings, NaN/Infinity as named literals.</summary>
    public static void ConfigureJson(JsonSerializerOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        o.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        o.Converters.Add(new JsonStringEnumConverter());
        o.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
    }

    /// <summary>The HTTP base address the server listens on (after start; resolves port 0).</summary>
    public static Uri HttpAddress(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/");
    }
}

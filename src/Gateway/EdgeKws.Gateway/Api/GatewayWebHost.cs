using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Json;
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
        ModelApi.AddServices(builder.Services, options.Models);
        builder.Services.Configure<JsonOptions>(o => ConfigureJson(o.SerializerOptions));
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(options.Http.BindAddress), options.Http.Port));
        configure?.Invoke(builder);

        WebApplication app = builder.Build();
        GatewayApi.Map(app);
        return app;
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

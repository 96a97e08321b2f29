using EdgeKws.Gateway;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// Usage:
//   EdgeKws.Gateway.Host                          run the gateway: MQTT broker, ingest, HTTP API + dashboard
//                                                 (config: appsettings.json, EDGEKWS_* env, --Gateway:...=...)
//   EdgeKws.Gateway.Host device add <id>          provision a device; the password is read from stdin (one line)
if (args.Length >= 1 && args[0] == "device")
{
    return ProvisionDevice(args);
}

await using WebApplication app = GatewayWebHost.Build(args);
await app.StartAsync();
// Fixed lines on stdout tell supervisors and tests the broker accepts devices and where the API is.
Console.WriteLine("gateway: http " + app.HttpAddress());
Console.WriteLine("gateway: ready");
await app.WaitForShutdownAsync();
Console.WriteLine("gateway: stopped " + app.Services.GetRequiredService<GatewayService>().Metrics.Snapshot());
return 0;

static int ProvisionDevice(string[] args)
{
    if (args.Length < 3 || args[1] != "add")
    {
        Console.Error.WriteLine("usage: EdgeKws.Gateway.Host device add <deviceId> [--Gateway:Store:DatabasePath=<path>]  (password on stdin)");
        return 2;
    }
    IConfigurationRoot config = new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables("EDGEKWS_")
        .AddCommandLine(args[3..])
        .Build();
    var options = new GatewayOptions();
    config.GetSection(GatewayOptions.SectionName).Bind(options);
    string? password = Console.In.ReadLine();
    if (string.IsNullOrEmpty(password))
    {
        Console.Error.WriteLine("device add: no password on stdin");
        return 2;
    }
    try
    {
        PasswordHash hash = PasswordHash.Create(password);
        using SqliteGatewayStore store = SqliteGatewayStore.Open(options.Store);
        store.SetDeviceCredential(args[2], hash);
        Console.WriteLine($"device '{args[2]}' provisioned in {store.DatabasePath}");
        return 0;
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine("device add: " + ex.Message);
        return 2;
    }
}

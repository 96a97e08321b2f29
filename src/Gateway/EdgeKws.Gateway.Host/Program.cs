using EdgeKws.Gateway;
using EdgeKws.Gateway.Broker;
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
//   EdgeKws.Gateway.Host device export-mosquitto <passwd-file> <acl-file> [--gateway-user <name>]...
//                                                 Mosquitto password file + ACL from the store's device credentials
//   EdgeKws.Gateway.Host device erase <id> [--keep-credential]
//                                                 erase the device's audio, features, labels and dataset membership,
//                                                 mark models trained on it, revoke its credential; prints the counts
//   EdgeKws.Gateway.Host model train|register|list|show|rollout|rollback|status [--gateway URL] [--token-file F] ...
//                                                 model registry, jobs and staged rollouts of a running gateway (its HTTP API;
//                                                 `model` alone prints the usage, docs/model-updates.md has the details)
//   EdgeKws.Gateway.Host token create --name N --role viewer|reviewer|operator|admin | list [--all] | revoke (--name N | --id N)
//                                                 HTTP API tokens in the store; create prints the token once (docs/gateway.md)
if (args.Length >= 1 && args[0] == "token")
{
    return TokenCli.Run(args[1..], settings => GatewayStores.Open(LoadOptions(settings).Store), Console.Out, Console.Error);
}
if (args.Length >= 1 && args[0] == "model")
{
    return await EdgeKws.Gateway.Models.ModelCli.RunAsync(args[1..], Console.Out, Console.Error);
}
if (args.Length >= 2 && args[0] == "device" && args[1] == "export-mosquitto")
{
    return ExportMosquitto(args);
}
if (args.Length >= 2 && args[0] == "device" && args[1] == "erase")
{
    return EraseDevice(args);
}
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
    GatewayOptions options = LoadOptions(args[3..]);
    string? password = Console.In.ReadLine();
    if (string.IsNullOrEmpty(password))
    {
        Console.Error.WriteLine("device add: no password on stdin");
        return 2;
    }
    try
    {
        PasswordHash hash = PasswordHash.Create(password);
        using IGatewayStore store = GatewayStores.Open(options.Store);
        store.SetDeviceCredential(args[2], hash);
        Console.WriteLine($"device '{args[2]}' provisioned in the {options.Store.Provider} store");
        return 0;
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine("device add: " + ex.Message);
        return 2;
    }
}

static int EraseDevice(string[] args)
{
    if (args.Length < 3 || args[2].StartsWith("--", StringComparison.Ordinal))
    {
        Console.Error.WriteLine("usage: EdgeKws.Gateway.Host device erase <deviceId> [--keep-credential] [--Gateway:Store:...=...]");
        return 2;
    }
    string[] rest = args[3..];
    bool keepCredential = rest.Contains("--keep-credential", StringComparer.Ordinal);
    GatewayOptions options = LoadOptions(rest.Where(a => a != "--keep-credential").ToArray());
    try
    {
        using IGatewayStore store = GatewayStores.Open(options.Store);
        if (!store.ReadDevices().Any(d => d.DeviceId == args[2]))
        {
            Console.Error.WriteLine($"device erase: device '{args[2]}' is unknown");
            return 1;
        }
        ErasureCounts c = store.EraseDevice(args[2], keepCredential, DateTimeOffset.UtcNow);
        Console.WriteLine($"device '{args[2]}' erased: {c.AudioClips} audio clips, {c.FeatureClips} feature clips, {c.DetectionClipRefs} detection clip references, " +
            $"{c.Labels} labels, {c.DatasetMemberships} dataset memberships, {c.SkewResults} skew results; {c.ModelsTainted} models marked; " +
            (c.CredentialRevoked ? "credential revoked" : keepCredential ? "credential kept" : "no credential to revoke"));
        return 0;
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
    {
        Console.Error.WriteLine("device erase: " + ex.Message);
        return 2;
    }
}

static GatewayOptions LoadOptions(string[] commandLine)
{
    IConfigurationRoot config = new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables("EDGEKWS_")
        .AddCommandLine(commandLine)
        .Build();
    var options = new GatewayOptions();
    config.GetSection(GatewayOptions.SectionName).Bind(options);
    return options;
}

static int ExportMosquitto(string[] args)
{
    const string usage = "usage: EdgeKws.Gateway.Host device export-mosquitto <passwd-file> <acl-file> [--gateway-user <name>]... [--Gateway:Store:...=...]";
    if (args.Length < 4)
    {
        Console.Error.WriteLine(usage);
        return 2;
    }
    var gatewayUsers = new List<string>();
    var rest = new List<string>();
    for (int i = 4; i < args.Length; i++)
    {
        if (args[i] == "--gateway-user" && i + 1 < args.Length)
        {
            gatewayUsers.Add(args[++i]);
        }
        else
        {
            rest.Add(args[i]);
        }
    }
    GatewayOptions options = LoadOptions([.. rest]);
    try
    {
        using IGatewayStore store = GatewayStores.Open(options.Store);
        MosquittoAuthFiles files = MosquittoAuthExport.Build(store, gatewayUsers, options.Broker.External.SharedGroup);
        MosquittoAuthExport.Write(files, args[2], args[3]);
        foreach (string skipped in files.Skipped)
        {
            Console.Error.WriteLine("export-mosquitto: skipped " + skipped);
        }
        Console.WriteLine($"exported {files.Exported.Count} devices to {args[2]} and the ACL to {args[3]}");
        return 0;
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine("device export-mosquitto: " + ex.Message);
        return 2;
    }
}

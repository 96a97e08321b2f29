using System.CommandLine;
using EdgeKws.Gateway;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Host;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The executable: without a command it runs the gateway (MQTT broker, ingest, HTTP API + dashboard; configuration from
// appsettings.json, EDGEKWS_* environment variables and --Gateway:...=... arguments); the commands below manage its store or
// talk to a running one. `--help` on any of them lists its options (docs/cli.md).
var root = new RootCommand("""
    EdgeKws gateway. Without a command: run the gateway (MQTT broker, ingest, HTTP API + dashboard); configuration from
    appsettings.json, then EDGEKWS_* environment variables, then --Gateway:Section:Key=value arguments (docs/gateway.md).
    """)
{
    DeviceCommand(),
    TokenCli.CreateCommand(settings => GatewayStores.Open(LoadOptions(settings).Store)),
    ModelCli.CreateCommand(),
};
// Every token the commands do not know is configuration for the web host, as ASP.NET Core reads its command line.
root.TreatUnmatchedTokensAsErrors = false;
root.SetAction(async (_, _) =>
{
    await using WebApplication app = GatewayWebHost.Build(args);
    await app.StartAsync();
    // Fixed lines on stdout tell supervisors and tests the broker accepts devices and where the API is.
    Console.WriteLine("gateway: http " + app.HttpAddress());
    Console.WriteLine("gateway: ready");
    await app.WaitForShutdownAsync();
    Console.WriteLine("gateway: stopped " + app.Services.GetRequiredService<GatewayService>().Metrics.Snapshot());
    return 0;
});
return await GatewayCommandLine.InvokeAsync(root, args, Console.Out, Console.Error);

static Command DeviceCommand()
{
    var addId = DeviceId("The device's id (its MQTT user name).");
    var add = GatewayCommandLine.AcceptSettings(new Command("add", "Provision a device; its password is read from stdin (one line).") { addId });
    add.SetAction(parse => ProvisionDevice(parse.GetValue(addId)!, GatewayCommandLine.Settings(parse)));

    var eraseId = DeviceId("The device to erase.");
    var keepCredential = new Option<bool>("--keep-credential") { Description = "Keep the device's credential (default: revoke it)." };
    var erase = GatewayCommandLine.AcceptSettings(new Command("erase",
        "Erase the device's audio, features, labels and dataset membership, mark models trained on it, revoke its credential; prints the counts. " +
        "Exit codes: 0 erased, 1 unknown device, 2 usage or a store error.") { eraseId, keepCredential });
    erase.SetAction(parse => EraseDevice(parse.GetValue(eraseId)!, parse.GetValue(keepCredential), GatewayCommandLine.Settings(parse)));

    var passwd = new Argument<string>("passwd-file") { Description = "Mosquitto password file to write." };
    var acl = new Argument<string>("acl-file") { Description = "Mosquitto ACL file to write." };
    var gatewayUser = new Option<string[]>("--gateway-user") { Description = "A gateway instance's broker user (repeat for each).", HelpName = "NAME" };
    var export = GatewayCommandLine.AcceptSettings(new Command("export-mosquitto",
        "Mosquitto password file + ACL from the store's device credentials. Exit codes: 0 exported, 2 usage or a store/file error.") { passwd, acl, gatewayUser });
    export.SetAction(parse => ExportMosquitto(parse.GetValue(passwd)!, parse.GetValue(acl)!, parse.GetValue(gatewayUser) ?? [], GatewayCommandLine.Settings(parse)));

    return new Command("device", "Device credentials and erasure in the store (--Gateway:Store:...=... selects the store).") { add, erase, export };

    // An option where the id belongs (a setting or a typo) is a usage error, not a device named "--...".
    static Argument<string> DeviceId(string description)
    {
        var id = new Argument<string>("deviceId") { Description = description };
        id.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } v && v.StartsWith('-'))
            {
                result.AddError($"<deviceId> is missing ('{v}' is an option, not a device id)");
            }
        });
        return id;
    }
}

static int ProvisionDevice(string deviceId, string[] settings)
{
    GatewayOptions options = LoadOptions(settings);
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
        store.SetDeviceCredential(deviceId, hash);
        Console.WriteLine($"device '{deviceId}' provisioned in the {options.Store.Provider} store");
        return 0;
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine("device add: " + ex.Message);
        return 2;
    }
}

static int EraseDevice(string deviceId, bool keepCredential, string[] settings)
{
    GatewayOptions options = LoadOptions(settings);
    try
    {
        using IGatewayStore store = GatewayStores.Open(options.Store);
        if (!store.ReadDevices().Any(d => d.DeviceId == deviceId))
        {
            Console.Error.WriteLine($"device erase: device '{deviceId}' is unknown");
            return 1;
        }
        ErasureCounts c = store.EraseDevice(deviceId, keepCredential, DateTimeOffset.UtcNow);
        Console.WriteLine($"device '{deviceId}' erased: {c.AudioClips} audio clips, {c.FeatureClips} feature clips, {c.DetectionClipRefs} detection clip references, " +
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

static int ExportMosquitto(string passwordFile, string aclFile, IReadOnlyList<string> gatewayUsers, string[] settings)
{
    GatewayOptions options = LoadOptions(settings);
    try
    {
        using IGatewayStore store = GatewayStores.Open(options.Store);
        MosquittoAuthFiles files = MosquittoAuthExport.Build(store, gatewayUsers, options.Broker.External.SharedGroup);
        MosquittoAuthExport.Write(files, passwordFile, aclFile);
        foreach (string skipped in files.Skipped)
        {
            Console.Error.WriteLine("export-mosquitto: skipped " + skipped);
        }
        Console.WriteLine($"exported {files.Exported.Count} devices to {passwordFile} and the ACL to {aclFile}");
        return 0;
    }
    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine("device export-mosquitto: " + ex.Message);
        return 2;
    }
}

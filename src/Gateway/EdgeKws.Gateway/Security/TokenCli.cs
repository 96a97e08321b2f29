using System.Globalization;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Security;

/// <summary>
/// <c>EdgeKws.Gateway.Host token create|list|revoke</c>: API tokens managed on the store directly (the gateway may be running or
/// not), which is how the first token of a new gateway is made. <c>create</c> prints the token alone on stdout, once
/// (<c>TOKEN=$(... token create ...)</c>); nothing ever prints it again. Each change is also written to the audit log (actor
/// <c>cli</c>).
/// </summary>
public static class TokenCli
{
    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage: EdgeKws.Gateway.Host token <command> [--Gateway:Store:...=...]
          create --name NAME --role viewer|reviewer|operator|admin   prints the new token on stdout (shown this once only)
          list [--all]                                               active tokens (--all: revoked ones too); never the token
          revoke (--name NAME | --id N)                              the token stops working at once (401)
        exit codes: 0 ok, 1 not found or name taken, 2 usage
        """;

    /// <summary>Runs one command. <paramref name="args"/> starts after <c>token</c>; <paramref name="openStore"/> opens the store
    /// from the remaining <c>--Gateway:...</c> settings.</summary>
    public static int Run(IReadOnlyList<string> args, Func<string[], IGatewayStore> openStore, TextWriter stdout, TextWriter stderr, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(openStore);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        clock ??= TimeProvider.System;
        if (args.Count == 0)
        {
            stderr.WriteLine(Usage);
            return 2;
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var settings = new List<string>();
        bool all = false;
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            if (a.StartsWith("--Gateway:", StringComparison.Ordinal) || a.StartsWith("--Logging:", StringComparison.Ordinal))
            {
                settings.Add(a);
            }
            else if (a == "--all")
            {
                all = true;
            }
            else if (a is "--name" or "--role" or "--id" && i + 1 < args.Count)
            {
                options[a[2..]] = args[++i];
            }
            else
            {
                stderr.WriteLine($"token: unexpected argument '{a}'");
                stderr.WriteLine(Usage);
                return 2;
            }
        }
        try
        {
            return args[0] switch
            {
                "create" => Create(options, settings, openStore, stdout, stderr, clock),
                "list" => List(all, settings, openStore, stdout),
                "revoke" => Revoke(options, settings, openStore, stdout, stderr, clock),
                _ => Usage2(stderr, $"unknown command '{args[0]}'"),
            };
        }
        catch (ArgumentException ex)
        {
            return Usage2(stderr, ex.Message);
        }
    }

    private static int Create(Dictionary<string, string> o, List<string> settings, Func<string[], IGatewayStore> openStore, TextWriter stdout, TextWriter stderr,
        TimeProvider clock)
    {
        string name = o.GetValueOrDefault("name") ?? throw new ArgumentException("--name is required");
        if (ApiToken.RefuseName(name) is { } why)
        {
            throw new ArgumentException("--" + why);
        }
        if (!ApiToken.TryParseRole(o.GetValueOrDefault("role"), out ApiRole role))
        {
            throw new ArgumentException("--role must be viewer, reviewer, operator or admin");
        }
        using IGatewayStore store = openStore([.. settings]);
        string token = ApiToken.Create();
        DateTimeOffset now = clock.GetUtcNow();
        long id;
        try
        {
            id = store.AddApiToken(name, role, ApiToken.Hash(token), now, "cli");
        }
        catch (InvalidOperationException ex)
        {
            stderr.WriteLine("token create: " + ex.Message);
            Audit(store, now, "token create", new { name, role = ApiToken.RoleName(role) }, 409);
            return 1;
        }
        Audit(store, now, "token create", new { name, role = ApiToken.RoleName(role), id }, 201);
        stdout.WriteLine(token);
        stderr.WriteLine($"token '{name}' ({ApiToken.RoleName(role)}, id {id}) created; it is shown only this once: store it now");
        return 0;
    }

    private static int List(bool all, List<string> settings, Func<string[], IGatewayStore> openStore, TextWriter stdout)
    {
        using IGatewayStore store = openStore([.. settings]);
        IReadOnlyList<ApiTokenRecord> tokens = store.ReadApiTokens(all);
        stdout.WriteLine($"{"id",-5} {"name",-24} {"role",-9} {"created (UTC)",-20} {"by",-16} state");
        foreach (ApiTokenRecord t in tokens)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Id,-5} {t.Name,-24} {ApiToken.RoleName(t.Role),-9} {t.CreatedUtc:yyyy-MM-dd HH:mm:ss} {t.CreatedBy,-16} {(t.RevokedUtc is { } r ? $"revoked {r:yyyy-MM-dd HH:mm:ss}" : "active")}"));
        }
        return 0;
    }

    private static int Revoke(Dictionary<string, string> o, List<string> settings, Func<string[], IGatewayStore> openStore, TextWriter stdout, TextWriter stderr,
        TimeProvider clock)
    {
        if (o.ContainsKey("name") == o.ContainsKey("id"))
        {
            throw new ArgumentException("revoke needs exactly one of --name NAME or --id N");
        }
        long? byId = null;
        if (o.TryGetValue("id", out string? idText))
        {
            byId = long.TryParse(idText, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 ? v : throw new ArgumentException("--id must be a positive number");
        }
        using IGatewayStore store = openStore([.. settings]);
        ApiTokenRecord? token = store.ReadApiTokens(includeRevoked: false).FirstOrDefault(t => byId is { } id ? t.Id == id : t.Name == o["name"]);
        DateTimeOffset now = clock.GetUtcNow();
        string what = byId is { } n ? $"id {n}" : $"name '{o["name"]}'";
        if (token is null || !store.RevokeApiToken(token.Id, now))
        {
            Audit(store, now, "token revoke", byId is { } i ? new { id = (long?)i, name = (string?)null } : new { id = (long?)null, name = (string?)o["name"] }, 404);
            stderr.WriteLine($"token revoke: no active token with {what}");
            return 1;
        }
        Audit(store, now, "token revoke", new { id = (long?)token.Id, name = (string?)token.Name }, 200);
        stdout.WriteLine($"token '{token.Name}' (id {token.Id}) revoked");
        return 0;
    }

    /// <summary>CLI changes belong in the audit log too: the actor is "cli" (whoever can open the store), no role.</summary>
    private static void Audit(IGatewayStore store, DateTimeOffset now, string command, object arguments, int status) =>
        store.AppendAudit(new AuditEntry(now, "cli", null, "CLI", command, command, System.Text.Json.JsonSerializer.Serialize(arguments, CamelCase), status, null));

    private static readonly System.Text.Json.JsonSerializerOptions CamelCase = new(System.Text.Json.JsonSerializerDefaults.Web);

    private static int Usage2(TextWriter stderr, string problem)
    {
        stderr.WriteLine("token: " + problem);
        stderr.WriteLine(Usage);
        return 2;
    }
}

using System.CommandLine;
using System.Globalization;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.Gateway.Host;

/// <summary>
/// <c>EdgeKws.Gateway.Host token create|list|revoke</c>: API tokens managed on the store directly (the gateway may be running or
/// not), which is how the first token of a new gateway is made. <c>create</c> prints the token alone on stdout, once
/// (<c>TOKEN=$(... token create ...)</c>); nothing ever prints it again. Each change is also written to the audit log (actor
/// <c>cli</c>). A command-line front end, so it lives in the host beside <see cref="ModelCli"/>; the token rules it applies (names,
/// roles, the token and its hash) are the library's <see cref="ApiToken"/>, which the HTTP API uses too.
/// </summary>
public static class TokenCli
{
    /// <summary>The <c>token</c> command: <c>create</c>, <c>list</c>, <c>revoke</c>. Each takes configuration overrides
    /// (<c>--Gateway:Store:...=...</c>) after its options, which <paramref name="openStore"/> gets to open the store.</summary>
    public static Command CreateCommand(Func<string[], IGatewayStore> openStore, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(openStore);
        TimeProvider time = clock ?? TimeProvider.System;

        var createName = new Option<string>("--name") { Description = "The token's name (unique among active tokens).", HelpName = "NAME", Required = true };
        createName.Validators.Add(result =>
        {
            if (ApiToken.RefuseName(result.GetValueOrDefault<string>()) is { } why)
            {
                result.AddError("--" + why);
            }
        });
        var role = new Option<string>("--role") { Description = "What the token may do.", HelpName = "viewer|reviewer|operator|admin", Required = true };
        role.Validators.Add(result =>
        {
            if (!ApiToken.TryParseRole(result.GetValueOrDefault<string>(), out _))
            {
                result.AddError("--role must be viewer, reviewer, operator or admin");
            }
        });
        var create = GatewayCommandLine.AcceptSettings(new Command("create", "Creates a token and prints it on stdout (shown this once only).") { createName, role });
        create.SetAction(parse => Guard(parse, () =>
        {
            ApiToken.TryParseRole(parse.GetValue(role), out ApiRole r);
            return Create(parse.GetValue(createName)!, r, GatewayCommandLine.Settings(parse), openStore, parse.InvocationConfiguration.Output,
                parse.InvocationConfiguration.Error, time);
        }));

        var all = new Option<bool>("--all") { Description = "Revoked tokens too." };
        var list = GatewayCommandLine.AcceptSettings(new Command("list", "Active tokens (never the token itself).") { all });
        list.SetAction(parse => Guard(parse, () => List(parse.GetValue(all), GatewayCommandLine.Settings(parse), openStore, parse.InvocationConfiguration.Output)));

        var revokeName = new Option<string>("--name") { Description = "The token to revoke, by name.", HelpName = "NAME" };
        var id = new Option<long>("--id") { Description = "The token to revoke, by id.", HelpName = "N" };
        id.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && long.TryParse(result.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n <= 0)
            {
                result.AddError("--id must be a positive number");
            }
        });
        var revoke = GatewayCommandLine.AcceptSettings(new Command("revoke", "The token stops working at once (401).") { revokeName, id });
        revoke.Validators.Add(result =>
        {
            if ((result.GetResult(revokeName) is null) == (result.GetResult(id) is null))
            {
                result.AddError("revoke needs exactly one of --name NAME or --id N");
            }
        });
        revoke.SetAction(parse => Guard(parse, () => Revoke(parse.GetValue(revokeName), parse.GetResult(id) is null ? null : parse.GetValue(id),
            GatewayCommandLine.Settings(parse), openStore, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, time)));

        return new Command("token", "HTTP API tokens in the store (the gateway may be running or not; --Gateway:Store:...=... selects the store). " +
            "Exit codes: 0 ok, 1 not found or name taken, 2 usage.")
        {
            create, list, revoke,
        };
    }

    private static int Create(string name, ApiRole role, string[] settings, Func<string[], IGatewayStore> openStore, TextWriter stdout, TextWriter stderr,
        TimeProvider clock)
    {
        using IGatewayStore store = openStore(settings);
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

    private static int List(bool all, string[] settings, Func<string[], IGatewayStore> openStore, TextWriter stdout)
    {
        using IGatewayStore store = openStore(settings);
        IReadOnlyList<ApiTokenRecord> tokens = store.ReadApiTokens(all);
        stdout.WriteLine($"{"id",-5} {"name",-24} {"role",-9} {"created (UTC)",-20} {"by",-16} state");
        foreach (ApiTokenRecord t in tokens)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Id,-5} {t.Name,-24} {ApiToken.RoleName(t.Role),-9} {t.CreatedUtc:yyyy-MM-dd HH:mm:ss} {t.CreatedBy,-16} {(t.RevokedUtc is { } r ? $"revoked {r:yyyy-MM-dd HH:mm:ss}" : "active")}"));
        }
        return 0;
    }

    private static int Revoke(string? name, long? byId, string[] settings, Func<string[], IGatewayStore> openStore, TextWriter stdout, TextWriter stderr,
        TimeProvider clock)
    {
        using IGatewayStore store = openStore(settings);
        ApiTokenRecord? token = store.ReadApiTokens(includeRevoked: false).FirstOrDefault(t => byId is { } id ? t.Id == id : t.Name == name);
        DateTimeOffset now = clock.GetUtcNow();
        string what = byId is { } n ? $"id {n}" : $"name '{name}'";
        if (token is null || !store.RevokeApiToken(token.Id, now))
        {
            Audit(store, now, "token revoke", byId is { } i ? new { id = (long?)i, name = (string?)null } : new { id = (long?)null, name }, 404);
            stderr.WriteLine($"token revoke: no active token with {what}");
            return 1;
        }
        Audit(store, now, "token revoke", new { id = (long?)token.Id, name = (string?)token.Name }, 200);
        stdout.WriteLine($"token '{token.Name}' (id {token.Id}) revoked");
        return 0;
    }

    /// <summary>A store setting the store refuses (<see cref="ArgumentException"/>) is a usage error, as a bad option is.</summary>
    private static int Guard(ParseResult parse, Func<int> command)
    {
        try
        {
            return command();
        }
        catch (ArgumentException ex)
        {
            parse.InvocationConfiguration.Error.WriteLine("token: " + ex.Message);
            return GatewayCommandLine.UsageError;
        }
    }

    /// <summary>CLI changes belong in the audit log too: the actor is "cli" (whoever can open the store), no role.</summary>
    private static void Audit(IGatewayStore store, DateTimeOffset now, string command, object arguments, int status) =>
        store.AppendAudit(new AuditEntry(now, "cli", null, "CLI", command, command, System.Text.Json.JsonSerializer.Serialize(arguments, CamelCase), status, null));

    private static readonly System.Text.Json.JsonSerializerOptions CamelCase = new(System.Text.Json.JsonSerializerDefaults.Web);
}

using EdgeKws.Gateway.Security;

namespace EdgeKws.Gateway.Storage;

/// <summary>An HTTP API token as stored (its SHA-256 never leaves the store; the token itself is never stored).</summary>
/// <param name="Id">Row id.</param>
/// <param name="Name">Who holds it (unique among active tokens; a reviewer's name on their labels).</param>
/// <param name="Role">What it may do.</param>
/// <param name="CreatedUtc">When it was created.</param>
/// <param name="CreatedBy">Who created it ("cli" or the admin token's name).</param>
/// <param name="RevokedUtc">When it was revoked, or null while active.</param>
public sealed record ApiTokenRecord(long Id, string Name, ApiRole Role, DateTimeOffset CreatedUtc, string CreatedBy, DateTimeOffset? RevokedUtc);

/// <summary>One state-changing call as the audit log records it.</summary>
/// <param name="TimeUtc">When the response started (after the call's effect).</param>
/// <param name="Actor">The token's name, or null for an anonymous call.</param>
/// <param name="Role">The token's role, or null.</param>
/// <param name="Method">HTTP method (or "CLI").</param>
/// <param name="Route">The route pattern (<c>/api/rollouts/{id:long}/rollback</c>), or the path when no route matched.</param>
/// <param name="Path">The request path as sent.</param>
/// <param name="Arguments">The arguments that matter, as compact JSON (route values, query, the body's fields with long arrays
/// and strings shortened), or null.</param>
/// <param name="Status">The HTTP status answered.</param>
/// <param name="Remote">The caller's IP address, or null.</param>
public sealed record AuditEntry(DateTimeOffset TimeUtc, string? Actor, ApiRole? Role, string Method, string Route, string Path, string? Arguments, int Status, string? Remote);

/// <summary>A stored audit entry.</summary>
/// <param name="Id">Row id (ascending in time of writing).</param>
/// <param name="Entry">What was recorded.</param>
public sealed record AuditRecord(long Id, AuditEntry Entry);

/// <summary>The access concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IAccessStore
{
}

/// <summary>HTTP API tokens and the audit log. Schema version 6. One implementation over both databases (<see cref="AccessStore"/>).</summary>
public interface IAccessStore
{
    /// <summary>Stores a new active token by its SHA-256 and returns its id. Throws <see cref="ArgumentException"/> naming a bad
    /// name, role or hash, and <see cref="InvalidOperationException"/> when an active token already has this name.</summary>
    long AddApiToken(string name, ApiRole role, byte[] tokenSha256, DateTimeOffset createdUtc, string createdBy);

    /// <summary>The active (not revoked) token whose SHA-256 is <paramref name="tokenSha256"/>, or false.</summary>
    bool TryGetActiveApiToken(byte[] tokenSha256, out ApiTokenRecord? token);

    /// <summary>Tokens ordered by id; revoked ones only when <paramref name="includeRevoked"/>.</summary>
    IReadOnlyList<ApiTokenRecord> ReadApiTokens(bool includeRevoked);

    /// <summary>Revokes an active token; false when there is no active token with this id.</summary>
    bool RevokeApiToken(long id, DateTimeOffset revokedUtc);

    /// <summary>Appends an audit entry (fields longer than the column limits are cut) and returns its id.</summary>
    long AppendAudit(AuditEntry entry);

    /// <summary>Audit entries newest first, with ids below <paramref name="beforeId"/> when given (paging).</summary>
    IReadOnlyList<AuditRecord> ReadAudit(long? beforeId, int limit);
}

/// <summary>Argument rules and column limits of the access members (<see cref="AccessStore"/>): what a token must be, and how an audit
/// entry is cut to its columns.</summary>
internal static class AccessArgumentRules
{
    public const int MaxActorLength = ApiToken.MaxNameLength;
    public const int MaxRouteLength = 256;
    public const int MaxPathLength = 1024;
    public const int MaxArgumentsLength = 8192;
    public const int MaxRemoteLength = 64;

    public static void ValidateToken(string name, ApiRole role, byte[] tokenSha256, string createdBy)
    {
        if (ApiToken.RefuseName(name) is { } why)
        {
            throw new ArgumentException(why, nameof(name));
        }
        if (!Enum.IsDefined(role))
        {
            throw new ArgumentException($"role {(int)role} is not viewer, reviewer, operator or admin", nameof(role));
        }
        if (tokenSha256 is not { Length: 32 })
        {
            throw new ArgumentException("the token hash must be 32 bytes (SHA-256)", nameof(tokenSha256));
        }
        if (string.IsNullOrEmpty(createdBy) || createdBy.Length > MaxActorLength)
        {
            throw new ArgumentException($"createdBy must be 1..{MaxActorLength} characters", nameof(createdBy));
        }
    }

    public static string NameTaken(string name) => $"an active token named '{name}' exists (revoke it first or choose another name)";

    /// <summary>The entry with every text field cut to its column limit (an audit row must never fail for its size).</summary>
    public static AuditEntry Bounded(AuditEntry e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e with
        {
            Actor = Cut(e.Actor, MaxActorLength),
            Method = Cut(e.Method, 16)!,
            Route = Cut(e.Route, MaxRouteLength)!,
            Path = Cut(e.Path, MaxPathLength)!,
            Arguments = Cut(e.Arguments, MaxArgumentsLength),
            Remote = Cut(e.Remote, MaxRemoteLength),
        };
    }

    private static string? Cut(string? s, int max) => s is null || s.Length <= max ? s : string.Concat(s.AsSpan(0, max - 1), "…");
}

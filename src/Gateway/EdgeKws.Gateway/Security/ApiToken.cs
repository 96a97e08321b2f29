using System.Security.Cryptography;
using System.Text;

namespace EdgeKws.Gateway.Security;

/// <summary>What an HTTP API token may do. Ordered: each role may do everything the roles below it may.</summary>
public enum ApiRole
{
    /// <summary>Reads: devices, detections, labels, FA/hour, drift, alerts, models, registry, rollouts, the dashboard, <c>/metrics</c>.</summary>
    Viewer = 1,

    /// <summary>Viewer plus the review queue (clip audio, decisions, re-reviews) and label posts.</summary>
    Reviewer = 2,

    /// <summary>Reviewer plus operations: cohorts, baselines, evaluations, model jobs, registry, rollouts, rollbacks, exports,
    /// erasure, labeling-worker runs, quarantine and the audit log.</summary>
    Operator = 3,

    /// <summary>Operator plus API token management.</summary>
    Admin = 4,
}

/// <summary>
/// HTTP API bearer tokens: 32 random bytes shown once as <c>ekws_</c> + base64url (43 characters); the store keeps only their
/// SHA-256. A token is a random secret, not a password a person chose, so one unsalted hash suffices: nothing can be guessed from
/// it, and the lookup by hash needs no per-row work. Names say who holds a token (a reviewer's name on their labels comes from it).
/// </summary>
public static class ApiToken
{
    /// <summary>Prefix of every token (tells it apart from other secrets in a config file or a leak scan).</summary>
    public const string Prefix = "ekws_";

    /// <summary>Random bytes per token.</summary>
    public const int SecretBytes = 32;

    /// <summary>Longest token name.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Longest text accepted as a token before it is hashed (a real one is 48 characters).</summary>
    public const int MaxTokenLength = 128;

    /// <summary>A new random token (cryptographic RNG).</summary>
    public static string Create() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>SHA-256 of the token's UTF-8 bytes: what the store keeps and looks up.</summary>
    public static byte[] Hash(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Whether <paramref name="token"/> has the form of a token (checked before hashing, so junk costs nothing).</summary>
    public static bool LooksLikeToken(string? token) =>
        token is { Length: > 0 and <= MaxTokenLength } && token.StartsWith(Prefix, StringComparison.Ordinal)
        && token.AsSpan(Prefix.Length).IndexOfAnyExcept(Base64UrlAlphabet) < 0;

    /// <summary>
    /// The anti-forgery value of a cookie session: HMAC-SHA256 keyed by the session's token. A page reads it from
    /// <c>GET /api/session</c> (a cross-site page cannot read that response) and sends it as a header on every state change; an
    /// attacker who can plant cookies still cannot compute it without the token. Stateless, so every gateway instance agrees.
    /// </summary>
    public static string AntiForgery(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "edgekws-antiforgery/1"u8));
    }

    /// <summary>Constant-time comparison of two anti-forgery values (or any two strings of secrets).</summary>
    public static bool FixedTimeEquals(string? a, string? b) =>
        a is not null && b is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    /// <summary>Why <paramref name="name"/> cannot name a token, or null.</summary>
    public static string? RefuseName(string? name) =>
        string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name[0] is '.' or '-'
        || name.AsSpan().IndexOfAnyExcept(NameAlphabet) >= 0
            ? $"name must be 1..{MaxNameLength} of A-Z a-z 0-9 . _ @ - (not starting with . or -)"
            : null;

    /// <summary>Parses a role name (case-insensitive: viewer, reviewer, operator, admin).</summary>
    public static bool TryParseRole(string? text, out ApiRole role)
    {
        role = default;
        return text is not null && !text.AsSpan().ContainsAnyInRange('0', '9') && Enum.TryParse(text, ignoreCase: true, out role) && Enum.IsDefined(role);
    }

    /// <summary>The role's lower-case name as the CLI, the API and the docs write it.</summary>
    public static string RoleName(ApiRole role) => role.ToString().ToLowerInvariant();

    private static readonly System.Buffers.SearchValues<char> Base64UrlAlphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static readonly System.Buffers.SearchValues<char> NameAlphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-");

    private static string Base64Url(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

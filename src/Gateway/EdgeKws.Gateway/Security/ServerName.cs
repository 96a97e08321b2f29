using System.Buffers;

namespace EdgeKws.Gateway.Security;

/// <summary>
/// Names the API may use for files the gateway reads: a relative name resolved inside one of the gateway's own configured
/// directories, never a server path. The form is checked before the file system is touched, so a path (<c>/etc/passwd</c>,
/// <c>../x</c>) is refused with the same words whether or not such a file exists; only a well-formed name is then looked up,
/// and only inside its directory.
/// </summary>
public static class ServerName
{
    /// <summary>Most parts of a name (<c>a/b/c/d</c>).</summary>
    public const int MaxParts = 4;

    /// <summary>Longest part.</summary>
    public const int MaxPartLength = 100;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    /// <summary>The rule, as refusals state it.</summary>
    public static string Rule(string field, string setting) =>
        $"{field} must be a name under {setting}: 1..{MaxParts} parts of A-Z a-z 0-9 . _ - joined by /, none starting with '.', not a path";

    /// <summary>
    /// Resolves <paramref name="name"/> under <paramref name="root"/>: false with the rule in <paramref name="problem"/> when the
    /// name is not of the allowed form (nothing on disk is looked at then).
    /// </summary>
    public static bool TryResolve(string root, string? name, string field, string setting, out string fullPath, out string problem)
    {
        ArgumentNullException.ThrowIfNull(root);
        fullPath = string.Empty;
        problem = Rule(field, setting);
        if (string.IsNullOrEmpty(name) || name.Length > MaxParts * (MaxPartLength + 1))
        {
            return false;
        }
        string[] parts = name.Split('/');
        if (parts.Length > MaxParts || parts.Any(p => p.Length is 0 or > MaxPartLength || p[0] == '.' || p.AsSpan().IndexOfAnyExcept(Allowed) >= 0))
        {
            return false;
        }
        string rootFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        string candidate = Path.GetFullPath(Path.Combine(rootFull, Path.Combine(parts)));
        // The form already excludes separators, "..", and rooted names; this is the second lock on the same door.
        if (!candidate.StartsWith(rootFull + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return false;
        }
        fullPath = candidate;
        problem = string.Empty;
        return true;
    }
}

using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace EdgeKws.Gateway.Api;

/// <summary>The query arguments several <c>*Api</c> classes take (<c>limit</c>, <c>bucket</c>), parsed and bounded the same way everywhere.</summary>
internal static class ApiArguments
{
    /// <summary>Largest <c>limit</c> a list endpoint accepts (and the most rows a reply built from a whole table reads).</summary>
    public const int MaxLimit = 10_000;

    /// <summary>The <c>limit</c> argument, or <paramref name="fallback"/> when absent; a 400 in <paramref name="bad"/> when outside 1..<see cref="MaxLimit"/>.</summary>
    public static bool TryLimit(int? limit, int fallback, out int value, out IResult? bad)
    {
        value = limit ?? fallback;
        bad = value is < 1 or > MaxLimit ? ApiErrors.BadRequest($"limit must be in 1..{MaxLimit}") : null;
        return bad is null;
    }

    /// <summary>
    /// Parses a bucket ("15m", "1h", "1d"). The count is checked against the window in whole minutes before any
    /// <see cref="TimeSpan"/> is built, so no value (e.g. 2147483647d, past TimeSpan's range) can overflow into a 500.
    /// </summary>
    public static bool TryBucket(string text, TimeSpan window, out TimeSpan bucket, out string reason)
    {
        bucket = default;
        reason = $"bucket '{(text.Length > 32 ? text[..32] + "..." : text)}' must be a number followed by m, h or d (e.g. 15m, 1h, 1d), " +
            "at most the window, with at most 1000 buckets per window";
        long unitMinutes = text.Length < 2 ? 0 : text[^1] switch { 'm' => 1, 'h' => 60, 'd' => 1440, _ => 0 };
        if (unitMinutes == 0 || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
        {
            return false;
        }
        long minutes = n * unitMinutes; // at most 2^31 x 1440: fits a long
        long windowMinutes = (long)Math.Ceiling(window.TotalMinutes);
        if (minutes > windowMinutes || windowMinutes / minutes > 1000)
        {
            return false;
        }
        bucket = TimeSpan.FromMinutes(minutes);
        return true;
    }
}

using System.Globalization;

namespace EdgeKws.Shared.Contracts;

/// <summary>
/// The feature configuration hash on the wire: a 64-bit value, written as exactly 16 lowercase
/// hex digits in JSON and user properties and as a little-endian u64 in binary clip frames.
/// It ties every detection, clip and sketch to the MFCC parameters that produced it.
/// </summary>
public static class FeatureConfigHash
{
    /// <summary>Characters in the text form.</summary>
    public const int TextLength = 16;

    /// <summary>Formats <paramref name="hash"/> as 16 lowercase hex digits.</summary>
    public static string Format(ulong hash) => hash.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Parses the text form; only exactly 16 lowercase hex digits are accepted so one hash has one spelling.</summary>
    public static bool TryParse(string? text, out ulong hash)
    {
        hash = 0;
        if (text is null || text.Length != TextLength)
        {
            return false;
        }
        foreach (char c in text)
        {
            if (!(c is >= '0' and <= '9' or >= 'a' and <= 'f'))
            {
                return false;
            }
        }
        return ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out hash);
    }
}

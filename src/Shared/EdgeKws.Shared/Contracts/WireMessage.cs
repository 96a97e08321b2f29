namespace EdgeKws.Shared.Contracts;

/// <summary>
/// What every JSON wire message shares: an explicit schema version and a boundary check that
/// device and gateway run identically (the gateway quarantines whatever fails it).
/// </summary>
public interface IWireMessage
{
    /// <summary>Schema version of this message's layout; the receiver rejects versions it does not know.</summary>
    int SchemaVersion { get; }

    /// <summary>Checks schema version, ranges and sizes. On failure <paramref name="reason"/> names the offending field.</summary>
    bool TryValidate(out string reason);
}

/// <summary>The kinds of uplink message; each has its own topic suffix (see <see cref="Topics"/>).</summary>
public enum MessageKind
{
    /// <summary>A keyword detection event (JSON <see cref="DetectionReport"/>).</summary>
    Detection = 1,
    /// <summary>Periodic health and FA/hour denominator (JSON <see cref="Heartbeat"/>).</summary>
    Heartbeat = 2,
    /// <summary>MFCC features around a detection (binary, <see cref="ClipFeatures"/>).</summary>
    ClipFeatures = 3,
    /// <summary>Raw audio around a detection, only with consent (binary, <see cref="ClipAudio"/>).</summary>
    ClipAudio = 4,
    /// <summary>Mergeable feature histograms for drift monitoring (JSON <see cref="DriftSketch"/>).</summary>
    DriftSketch = 5,
    /// <summary>Model slot state and update outcome (JSON <see cref="ModelStatus"/>).</summary>
    ModelStatus = 6,
    /// <summary>Online/offline presence, retained; offline is the MQTT Last Will (JSON <see cref="DeviceStatus"/>).</summary>
    Status = 7,
    /// <summary>Enrollment quality figures and pass/fail counts, never the voice print (JSON <see cref="EnrollmentQcReport"/>).</summary>
    EnrollmentQc = 8,
    /// <summary>A near miss: the smoothed score peaked in the band just below the detection threshold (JSON <see cref="NearMissReport"/>).
    /// Added after the first gateways: a gateway that predates it quarantines the topic as unknown (never counts it as a detection).</summary>
    NearMiss = 9,
}

/// <summary>Schema versions and size limits both sides agree on.</summary>
public static class WireLimits
{
    /// <summary>The one schema version of the v1 JSON messages and binary clip frames.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Largest JSON message the gateway accepts; a drift sketch is about 5 KB.</summary>
    public const int MaxJsonBytes = 64 * 1024;

    /// <summary>Longest free-text field (reasons, keyword labels).</summary>
    public const int MaxTextLength = 256;

    /// <summary>Longest model version string.</summary>
    public const int MaxModelVersionLength = 64;

    /// <summary>Device clocks may be wrong; anything outside this window is a broken clock, not data.</summary>
    public static readonly DateTimeOffset EarliestDeviceTimeUtc = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Upper bound of a plausible device time relative to the checker's clock (clock skew allowance).</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromDays(1);
}

/// <summary>
/// Shared field checks so every message validates the same way and names the field it rejects.
/// </summary>
internal static class Check
{
    public static bool Schema(int schemaVersion, out string reason)
    {
        if (schemaVersion != WireLimits.SchemaVersion)
        {
            reason = $"schemaVersion {schemaVersion} is not supported (supported: {WireLimits.SchemaVersion})";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    public static bool DeviceId(string? deviceId, out string reason)
    {
        if (!Topics.TryValidateDeviceId(deviceId, out string why))
        {
            reason = "deviceId: " + why;
            return false;
        }
        reason = string.Empty;
        return true;
    }

    public static bool Time(string field, DateTimeOffset value, out string reason)
    {
        if (value.Offset != TimeSpan.Zero)
        {
            reason = $"{field} must be UTC (offset +00:00), got offset {value.Offset}";
            return false;
        }
        if (value < WireLimits.EarliestDeviceTimeUtc || value > DateTimeOffset.UtcNow + WireLimits.MaxFutureSkew)
        {
            reason = $"{field} {value:O} is outside the plausible range (device clock not set?)";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    public static bool Text(string field, string? value, int maxLength, bool required, out string reason)
    {
        if (string.IsNullOrEmpty(value))
        {
            reason = required ? $"{field} is required" : string.Empty;
            return !required;
        }
        if (value.Length > maxLength)
        {
            reason = $"{field} is {value.Length} characters long (max {maxLength})";
            return false;
        }
        foreach (char c in value)
        {
            if (char.IsControl(c))
            {
                reason = $"{field} contains a control character (U+{(int)c:X4})";
                return false;
            }
        }
        reason = string.Empty;
        return true;
    }

    public static bool ConfigHash(string field, string? value, out string reason) =>
        FeatureConfigHash.TryValidate(value, field, out reason);

    public static bool NonNegative(string field, double value, out string reason)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            reason = $"{field} must be a finite number >= 0, got {value}";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    public static bool NonNegative(string field, long value, out string reason)
    {
        if (value < 0)
        {
            reason = $"{field} must be >= 0, got {value}";
            return false;
        }
        reason = string.Empty;
        return true;
    }

    public static string Truncate(string? value) =>
        value is null ? "(null)" : value.Length <= 40 ? value : value[..40] + "...";
}

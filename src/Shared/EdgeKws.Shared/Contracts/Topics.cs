namespace EdgeKws.Shared.Contracts;

/// <summary>
/// The one MQTT topic scheme. Uplink: <c>edgekws/v1/{deviceId}/{kind}</c>; downlink:
/// <c>edgekws/v1/{deviceId}/cmd/{command}</c>. The device id is a single topic level, so it may not
/// contain MQTT separators or wildcards; a broker ACL can then pin a user to its own subtree.
/// </summary>
public static class Topics
{
    /// <summary>Root of every topic, versioned so a v2 scheme can run beside v1.</summary>
    public const string Root = "edgekws/v1";

    /// <summary>Longest device id accepted.</summary>
    public const int MaxDeviceIdLength = 64;

    /// <summary>Filter for the gateway: every uplink message of every device.</summary>
    public const string AllUplinkFilter = Root + "/+/+";

    /// <summary>The command level under a device's subtree.</summary>
    public const string CommandLevel = "cmd";

    /// <summary>
    /// Device ids are 1-64 characters of <c>A-Z a-z 0-9 - _</c>. That excludes '/', '+', '#', '$',
    /// spaces and dots, so an id is always one literal topic level and a valid MQTT client id.
    /// </summary>
    public static bool TryValidateDeviceId(string? deviceId, out string reason)
    {
        if (string.IsNullOrEmpty(deviceId))
        {
            reason = "device id is empty";
            return false;
        }
        if (deviceId.Length > MaxDeviceIdLength)
        {
            reason = $"device id is {deviceId.Length} characters long (max {MaxDeviceIdLength})";
            return false;
        }
        for (int i = 0; i < deviceId.Length; i++)
        {
            char c = deviceId[i];
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_'))
            {
                reason = $"device id '{Check.Truncate(deviceId)}' has a disallowed character '{c}' at index {i} (allowed: A-Z a-z 0-9 - _)";
                return false;
            }
        }
        reason = string.Empty;
        return true;
    }

    /// <summary>The topic suffix of a message kind.</summary>
    public static string KindSegment(MessageKind kind) => kind switch
    {
        MessageKind.Detection => "detection",
        MessageKind.Heartbeat => "heartbeat",
        MessageKind.ClipFeatures => "clip-features",
        MessageKind.ClipAudio => "clip-audio",
        MessageKind.DriftSketch => "drift",
        MessageKind.ModelStatus => "model-status",
        MessageKind.Status => "status",
        MessageKind.EnrollmentQc => "enrollment-qc",
        MessageKind.NearMiss => "near-miss",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown message kind"),
    };

    /// <summary>Parses a topic suffix back to its kind.</summary>
    public static bool TryParseKind(ReadOnlySpan<char> segment, out MessageKind kind)
    {
        kind = segment switch
        {
            "detection" => MessageKind.Detection,
            "heartbeat" => MessageKind.Heartbeat,
            "clip-features" => MessageKind.ClipFeatures,
            "clip-audio" => MessageKind.ClipAudio,
            "drift" => MessageKind.DriftSketch,
            "model-status" => MessageKind.ModelStatus,
            "status" => MessageKind.Status,
            "enrollment-qc" => MessageKind.EnrollmentQc,
            "near-miss" => MessageKind.NearMiss,
            _ => 0,
        };
        return kind != 0;
    }

    /// <summary>The uplink topic of <paramref name="kind"/> for <paramref name="deviceId"/>; throws on an invalid id.</summary>
    public static string Uplink(string deviceId, MessageKind kind)
    {
        RequireDeviceId(deviceId);
        return $"{Root}/{deviceId}/{KindSegment(kind)}";
    }

    /// <summary>The downlink topic of <paramref name="command"/> (one level, same character rules as a device id).</summary>
    public static string Command(string deviceId, string command)
    {
        RequireDeviceId(deviceId);
        if (!TryValidateDeviceId(command, out string why))
        {
            throw new ArgumentException("command name: " + why.Replace("device id", "name", StringComparison.Ordinal), nameof(command));
        }
        return $"{Root}/{deviceId}/{CommandLevel}/{command}";
    }

    /// <summary>Filter a device subscribes to for all of its commands.</summary>
    public static string CommandFilter(string deviceId)
    {
        RequireDeviceId(deviceId);
        return $"{Root}/{deviceId}/{CommandLevel}/#";
    }

    /// <summary>Filter for everything a device may publish or receive (used in broker ACLs).</summary>
    public static string DeviceSubtree(string deviceId)
    {
        RequireDeviceId(deviceId);
        return $"{Root}/{deviceId}/#";
    }

    /// <summary>Splits an uplink topic into device id and kind; false (with a reason) for anything else.</summary>
    public static bool TryParseUplink(string? topic, out string deviceId, out MessageKind kind, out string reason)
    {
        deviceId = string.Empty;
        kind = 0;
        if (topic is null || !topic.StartsWith(Root + "/", StringComparison.Ordinal))
        {
            reason = $"topic '{Check.Truncate(topic)}' is not under '{Root}/'";
            return false;
        }
        ReadOnlySpan<char> rest = topic.AsSpan(Root.Length + 1);
        int slash = rest.IndexOf('/');
        if (slash <= 0 || rest[(slash + 1)..].Contains('/'))
        {
            reason = $"topic '{Check.Truncate(topic)}' is not '{Root}/{{deviceId}}/{{kind}}'";
            return false;
        }
        string id = rest[..slash].ToString();
        if (!TryValidateDeviceId(id, out reason))
        {
            return false;
        }
        if (!TryParseKind(rest[(slash + 1)..], out kind))
        {
            reason = $"topic '{Check.Truncate(topic)}' has an unknown kind '{rest[(slash + 1)..].ToString()}'";
            return false;
        }
        deviceId = id;
        reason = string.Empty;
        return true;
    }

    private static void RequireDeviceId(string deviceId)
    {
        if (!TryValidateDeviceId(deviceId, out string why))
        {
            throw new ArgumentException(why, nameof(deviceId));
        }
    }
}

/// <summary>
/// MQTT 5 user property names. They let the gateway de-duplicate and route without parsing the payload.
/// </summary>
public static class UserProperties
{
    /// <summary>Per-device outbox sequence number (decimal); the gateway's idempotency key with the device id.</summary>
    public const string Sequence = "ekws-seq";

    /// <summary>Feature configuration hash (the SHA-256 as 64 lowercase hex digits, see <see cref="FeatureConfigHash"/>).</summary>
    public const string FeatureConfigHash = "ekws-cfg";

    /// <summary>Schema version of the payload (decimal).</summary>
    public const string SchemaVersion = "ekws-schema";

    /// <summary>Message kind (the topic suffix, e.g. <c>detection</c>).</summary>
    public const string MessageKind = "ekws-kind";
}

/// <summary>MQTT 5 content types of the payloads.</summary>
public static class ContentTypes
{
    /// <summary>The JSON messages.</summary>
    public const string Json = "application/json";

    /// <summary>The binary clip frames of <see cref="ClipAudio"/> and <see cref="ClipFeatures"/>.</summary>
    public const string Clip = "application/vnd.edgekws.clip";
}

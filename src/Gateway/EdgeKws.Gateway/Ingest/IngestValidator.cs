using System.Buffers;
using System.Globalization;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Ingest;

/// <summary>
/// The boundary check: every received message passes through <see cref="TryValidate"/> before anything is
/// stored. It uses the shared contracts (the same checks the device runs before sending) and adds what only
/// the receiver can check: the publisher owns the topic, the user properties agree with the topic and the
/// payload, the payload's device id is the topic's. Never throws on bad input: the reason names the problem.
/// Thread-safe (stateless).
/// </summary>
public static class IngestValidator
{
    /// <summary>Checks <paramref name="envelope"/>; on false, <paramref name="rejection"/> and <paramref name="reason"/> say why.</summary>
    /// <param name="envelope">The received message.</param>
    /// <param name="maxPayloadBytes">Largest payload accepted.</param>
    /// <param name="message">The parsed message when valid.</param>
    /// <param name="rejection">The class of problem.</param>
    /// <param name="reason">The specific problem.</param>
    public static bool TryValidate(IngestEnvelope envelope, int maxPayloadBytes, out ValidMessage? message, out RejectionKind rejection, out string reason)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        message = null;

        // Access control first: a message outside the publisher's subtree says nothing about that device.
        if (envelope.ClientId is not null)
        {
            string own = Topics.Root + "/" + envelope.ClientId + "/";
            if (!envelope.Topic.StartsWith(own, StringComparison.Ordinal))
            {
                rejection = RejectionKind.ForeignTopic;
                reason = $"client '{Truncate(envelope.ClientId)}' may publish only under '{own}', not to '{Truncate(envelope.Topic)}'";
                return false;
            }
        }
        if (!Topics.TryParseUplink(envelope.Topic, out string deviceId, out MessageKind kind, out reason))
        {
            rejection = RejectionKind.InvalidTopic;
            return false;
        }

        rejection = RejectionKind.InvalidProperties;
        if (!TryReadProperties(envelope, kind, out long? sequence, out string? propertyHash, out reason))
        {
            return false;
        }

        rejection = RejectionKind.InvalidPayload;
        if (envelope.Payload.Length > maxPayloadBytes)
        {
            reason = $"payload is {envelope.Payload.Length} bytes (max {maxPayloadBytes})";
            return false;
        }
        string expectedType = kind is MessageKind.ClipAudio or MessageKind.ClipFeatures ? ContentTypes.Clip : ContentTypes.Json;
        if (envelope.ContentType is not null && !string.Equals(envelope.ContentType, expectedType, StringComparison.Ordinal))
        {
            reason = $"content type '{Truncate(envelope.ContentType)}' does not match the {Topics.KindSegment(kind)} kind (expected '{expectedType}')";
            return false;
        }

        object body;
        string? payloadDevice;
        string? payloadHash;
        switch (kind)
        {
            case MessageKind.Detection:
                if (!WireJson.TryDeserialize(envelope.Payload, WireJsonContext.Default.DetectionReport, out DetectionReport? d, out reason))
                {
                    return false;
                }
                (body, payloadDevice, payloadHash) = (d, d.DeviceId, d.FeatureConfigHash);
                break;
            case MessageKind.NearMiss:
                // A near miss is stored apart from detections (never counted as one).
                if (!WireJson.TryDeserialize(envelope.Payload, WireJsonContext.Default.NearMissReport, out NearMissReport? n, out reason))
                {
                    return false;
                }
                (body, payloadDevice, payloadHash) = (n, n.DeviceId, n.FeatureConfigHash);
                break;
            case MessageKind.Heartbeat:
                if (!WireJson.TryDeserialize(envelope.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? h, out reason))
                {
                    return false;
                }
                (body, payloadDevice, payloadHash) = (h, h.DeviceId, null);
                break;
            case MessageKind.DriftSketch:
                if (!WireJson.TryDeserialize(envelope.Payload, WireJsonContext.Default.DriftSketch, out DriftSketch? s, out reason))
                {
                    return false;
                }
                if (s.DeviceId is null)
                {
                    // A merged sketch may omit the device; one a device uploads may not.
                    reason = "DriftSketch: deviceId is required in a sketch a device uploads";
                    return false;
                }
                (body, payloadDevice, payloadHash) = (s, s.DeviceId, s.FeatureConfigHash);
                break;
            case MessageKind.ModelStatus:
                if (!WireJson.TryDeserialize(envelope.Payload, WireJsonContext.Default.ModelStatus, out ModelStatus? m, out reason))
                {
                    return false;
                }
                (body, payloadDevice, payloadHash) = (m, m.DeviceId, null);
                break;
            case MessageKind.Status:
                if (!WireJson.TryDeserialize(envelope.Payload, WireJsonContext.Default.DeviceStatus, out DeviceStatus? st, out reason))
                {
                    return false;
                }
                (body, payloadDevice, payloadHash) = (st, st.DeviceId, null);
                break;
            case MessageKind.ClipAudio:
            case MessageKind.ClipFeatures:
                if (!TryValidateClip(envelope.Payload, kind, out ClipHeader header, out reason))
                {
                    return false;
                }
                (body, payloadDevice, payloadHash) = (header, deviceId, header.ConfigHash.ToString());
                break;
            default:
                reason = $"kind {kind} has no validator";
                return false;
        }

        if (!string.Equals(payloadDevice, deviceId, StringComparison.Ordinal))
        {
            reason = $"payload deviceId '{Truncate(payloadDevice)}' does not match the topic's device '{deviceId}'";
            return false;
        }
        if (payloadHash is not null)
        {
            if (propertyHash is null)
            {
                rejection = RejectionKind.InvalidProperties;
                reason = $"user property {UserProperties.FeatureConfigHash} is required for {Topics.KindSegment(kind)} messages";
                return false;
            }
            if (!string.Equals(payloadHash, propertyHash, StringComparison.Ordinal))
            {
                reason = $"user property {UserProperties.FeatureConfigHash} '{Truncate(propertyHash)}' differs from the payload's feature config hash '{Truncate(payloadHash)}'";
                return false;
            }
        }

        message = new ValidMessage(deviceId, sequence, kind, body, payloadHash ?? propertyHash);
        rejection = RejectionKind.None;
        reason = string.Empty;
        return true;
    }

    private static bool TryReadProperties(IngestEnvelope envelope, MessageKind kind, out long? sequence, out string? configHash, out string reason)
    {
        sequence = null;
        configHash = null;
        string? seqText = null, schemaText = null, kindText = null;
        foreach (KeyValuePair<string, string> p in envelope.UserProperties)
        {
            ref string? slot = ref seqText;
            switch (p.Key)
            {
                case UserProperties.Sequence: slot = ref seqText; break;
                case UserProperties.SchemaVersion: slot = ref schemaText; break;
                case UserProperties.MessageKind: slot = ref kindText; break;
                case UserProperties.FeatureConfigHash: slot = ref configHash; break;
                default: continue; // unknown properties are tolerated (forward compatibility)
            }
            if (slot is not null)
            {
                reason = $"user property {p.Key} appears more than once";
                return false;
            }
            slot = p.Value;
        }

        if (schemaText is null)
        {
            reason = $"user property {UserProperties.SchemaVersion} is missing";
            return false;
        }
        if (!int.TryParse(schemaText, NumberStyles.None, CultureInfo.InvariantCulture, out int schema) || schema != WireLimits.SchemaVersion)
        {
            reason = $"user property {UserProperties.SchemaVersion} '{Truncate(schemaText)}' is not a supported schema version (supported: {WireLimits.SchemaVersion})";
            return false;
        }
        if (kindText is not null && !string.Equals(kindText, Topics.KindSegment(kind), StringComparison.Ordinal))
        {
            reason = $"user property {UserProperties.MessageKind} '{Truncate(kindText)}' does not match the topic's kind '{Topics.KindSegment(kind)}'";
            return false;
        }
        if (seqText is null)
        {
            if (kind != MessageKind.Status)
            {
                reason = $"user property {UserProperties.Sequence} is missing (required for {Topics.KindSegment(kind)} messages)";
                return false;
            }
        }
        else
        {
            // NumberStyles.None: digits only, no sign, no spaces, so one number has one spelling.
            if (!long.TryParse(seqText, NumberStyles.None, CultureInfo.InvariantCulture, out long seq) || seq < 1)
            {
                reason = $"user property {UserProperties.Sequence} '{Truncate(seqText)}' is not a positive decimal integer";
                return false;
            }
            sequence = seq;
        }
        if (configHash is not null && !FeatureConfigHash.TryValidate(configHash, "user property " + UserProperties.FeatureConfigHash, out reason))
        {
            return false;
        }
        reason = string.Empty;
        return true;
    }

    private static bool TryValidateClip(byte[] payload, MessageKind kind, out ClipHeader header, out string reason)
    {
        if (kind == MessageKind.ClipAudio)
        {
            return ClipAudio.TryReadHeader(payload, out header, out reason);
        }
        if (!ClipFeatures.TryReadHeader(payload, out header, out reason))
        {
            return false;
        }
        // The header is consistent; the values must also be finite (a NaN would poison drift and training).
        int count = header.FrameCount * header.ValuesPerFrame;
        float[] values = ArrayPool<float>.Shared.Rent(count);
        try
        {
            return ClipFeatures.TryReadFeatures(payload, header, values, out reason);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(values);
        }
    }

    internal static string Truncate(string? value) =>
        value is null ? "(null)" : value.Length <= 64 ? value : value[..64] + "...";
}

using System.Buffers.Binary;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The argument rules and column encodings of the monitoring members, shared by <see cref="SqliteGatewayStore"/> and
/// <see cref="PostgresGatewayStore"/> so both refuse the same input with the same words and read back the same bytes.
/// </summary>
internal static class MonitoringValues
{
    /// <summary>Longest label source text.</summary>
    public const int MaxLabelSourceLength = 128;

    /// <summary>Longest cohort name.</summary>
    public const int MaxCohortLength = 64;

    /// <summary>
    /// The definition of "pending review" (docs/gateway.md, Monitoring), one SQL expression over <c>detections d LEFT JOIN labels l</c>
    /// that both databases read the same way: 1 for a detection that has no decided label yet but still can get one, that is
    /// labelled <c>Unknown</c> (the review queue), or has no label and refers to a clip the gateway holds (the labeling worker's
    /// input, or a clip whose features wait for their audio); else 0. A detection without a stored clip and without a label is not
    /// pending: nothing is left to decide it with (no clip was sent, or it was erased or deleted by retention).
    /// </summary>
    public const string PendingReviewSql =
        "CASE WHEN l.label = 'Unknown' OR (l.label IS NULL AND d.clip_id IS NOT NULL AND EXISTS "
        + "(SELECT 1 FROM clips c WHERE c.device_id = d.device_id AND c.clip_id = d.clip_id)) THEN 1 ELSE 0 END";

    /// <summary>
    /// Activity rows per (bucket, device, model): each heartbeat's contribution (<see cref="HeartbeatListening"/>) in the
    /// bucket of its device time, merged with the detection rows. Integer division truncates toward zero, as in both
    /// databases' bucket expressions.
    /// </summary>
    public static List<ActivityRow> MergeActivity(IEnumerable<HeartbeatChainRow> heartbeats, long bucketMs, IEnumerable<ActivityRow> detections)
    {
        var merged = new Dictionary<(long, string, string), ActivityRow>();
        foreach (HeartbeatChainRow h in heartbeats)
        {
            (double listening, bool incomplete, long lost) = HeartbeatListening.Contribution(h);
            long bucket = h.DeviceTimeUtcMs / bucketMs * bucketMs;
            var key = (bucket, h.DeviceId, h.ModelVersion);
            merged.TryGetValue(key, out ActivityRow a);
            merged[key] = a with
            {
                BucketStartUtc = DateTimeOffset.FromUnixTimeMilliseconds(bucket),
                DeviceId = h.DeviceId,
                ModelVersion = h.ModelVersion,
                ListeningSeconds = a.ListeningSeconds + listening,
                ListeningIncomplete = a.ListeningIncomplete || incomplete,
                DetectionsLost = a.DetectionsLost + lost,
            };
        }
        foreach (ActivityRow d in detections)
        {
            var key = (d.BucketStartUtc.ToUnixTimeMilliseconds(), d.DeviceId, d.ModelVersion);
            merged.TryGetValue(key, out ActivityRow a);
            merged[key] = a with
            {
                BucketStartUtc = d.BucketStartUtc,
                DeviceId = d.DeviceId,
                ModelVersion = d.ModelVersion,
                TrueAccepts = a.TrueAccepts + d.TrueAccepts,
                FalseAccepts = a.FalseAccepts + d.FalseAccepts,
                Unlabelled = a.Unlabelled + d.Unlabelled,
                PendingReview = a.PendingReview + d.PendingReview,
            };
        }
        return merged.Values.OrderBy(a => a.BucketStartUtc).ThenBy(a => a.DeviceId, StringComparer.Ordinal).ThenBy(a => a.ModelVersion, StringComparer.Ordinal).ToList();
    }

    /// <summary>Throws naming the rule when <paramref name="cohort"/> is not null and not a valid cohort name.</summary>
    public static void ValidateCohort(string? cohort)
    {
        if (cohort is not null && (cohort.Length == 0 || cohort.Length > MaxCohortLength || cohort.Any(char.IsControl)))
        {
            throw new ArgumentException($"cohort must be 1..{MaxCohortLength} characters without control characters", nameof(cohort));
        }
    }

    /// <summary>Why <paramref name="label"/> cannot be stored (before looking for its detection), or null.</summary>
    public static string? RefuseLabel(DetectionLabel label)
    {
        if (!Enum.IsDefined(label.Label))
        {
            return $"label {(int)label.Label} is not TrueAccept, FalseAccept or Unknown";
        }
        if (string.IsNullOrWhiteSpace(label.Source) || label.Source.Length > MaxLabelSourceLength)
        {
            return $"source must be 1..{MaxLabelSourceLength} characters";
        }
        return null;
    }

    /// <summary>The refusal for a label whose detection is not stored.</summary>
    public static string NoDetection(DetectionLabel label) => $"no detection ({label.DeviceId}, {label.Sequence}) is stored";

    /// <summary>Throws naming the problem when the model version or the baseline sketch is invalid.</summary>
    public static void ValidateBaseline(string modelVersion, DriftSketch baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        if (string.IsNullOrEmpty(modelVersion) || modelVersion.Length > WireLimits.MaxModelVersionLength)
        {
            throw new ArgumentException($"model version must be 1..{WireLimits.MaxModelVersionLength} characters", nameof(modelVersion));
        }
        if (!baseline.TryValidate(out string reason))
        {
            throw new ArgumentException("baseline sketch: " + reason, nameof(baseline));
        }
    }

    /// <summary>Throws when the evaluation's scores and labels differ in length.</summary>
    public static void ValidateEvaluation(EvaluationRecord evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        if (evaluation.Scores.Length != evaluation.Positives.Length)
        {
            throw new ArgumentException($"{evaluation.Scores.Length} scores but {evaluation.Positives.Length} labels", nameof(evaluation));
        }
    }

    /// <summary>Scores as little-endian float32: an evaluation set of 100,000 trials is 400 KB.</summary>
    public static byte[] EncodeScores(float[] scores)
    {
        var bytes = new byte[scores.Length * 4];
        for (int i = 0; i < scores.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), scores[i]);
        }
        return bytes;
    }

    /// <summary>Inverse of <see cref="EncodeScores"/>.</summary>
    public static float[] DecodeScores(byte[] bytes)
    {
        var scores = new float[bytes.Length / 4];
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        }
        return scores;
    }

    /// <summary>Trial labels as one byte each (1 = keyword).</summary>
    public static byte[] EncodePositives(bool[] positives) => positives.Select(p => p ? (byte)1 : (byte)0).ToArray();

    /// <summary>Inverse of <see cref="EncodePositives"/>.</summary>
    public static bool[] DecodePositives(byte[] bytes) => bytes.Select(b => b != 0).ToArray();

    /// <summary>A stored sketch row; stored sketches passed validation at ingest, so one that no longer parses is a bug worth an exception.</summary>
    public static StoredSketch ParseSketch(string deviceId, long seq, byte[] json)
    {
        if (!WireJson.TryDeserialize(json, WireJsonContext.Default.DriftSketch, out DriftSketch? sketch, out string reason))
        {
            throw new InvalidOperationException($"stored sketch ({deviceId}, {seq}) does not parse: {reason}");
        }
        return new StoredSketch(deviceId, seq, sketch);
    }

    /// <summary>A stored baseline; it was validated when stored, so one that no longer parses is a bug worth an exception.</summary>
    public static DriftSketch ParseBaseline(string modelVersion, byte[] json)
    {
        if (!WireJson.TryDeserialize(json, WireJsonContext.Default.DriftSketch, out DriftSketch? baseline, out string reason))
        {
            throw new InvalidOperationException($"stored baseline of '{modelVersion}' does not parse: {reason}");
        }
        return baseline;
    }
}

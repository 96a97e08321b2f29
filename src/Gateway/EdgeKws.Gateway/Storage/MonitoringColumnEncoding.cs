using System.Buffers.Binary;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// How the monitoring tables' blob columns are encoded and read back (<see cref="MonitoringStore"/>): evaluation scores and labels,
/// stored sketches and baselines.
/// </summary>
internal static class MonitoringColumnEncoding
{
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

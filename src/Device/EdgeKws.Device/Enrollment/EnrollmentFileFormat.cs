using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// The bytes of <c>enrollment.bin</c>, written and read by <see cref="EnrollmentStore"/>.
/// </summary>
/// <remarks>
/// Little-endian: <c>"EKWSENRL"</c>, u16 format version (1), u16 reserved, u32 payload length, the
/// payload, then the SHA-256 of everything before it. The payload: 32 raw bytes of the feature
/// configuration hash, i64 creation time (Unix ms), u16 + UTF-8 phrase, u16 coefficient count, u16 take
/// count, u16 template index, f64 DTW threshold, then per take: u16 frame count, 10 f64 figures (NaN for
/// an absent figure; clipped runs as f64), f64 distance to the template, frames x coefficients f32. The
/// digest makes a torn or bit-rotted file fail to load instead of loading wrong features.
/// </remarks>
internal static class EnrollmentFileFormat
{
    /// <summary>Current file format version.</summary>
    public const ushort Version = 1;

    private const int HeaderBytes = 16;
    private const int DigestBytes = 32;
    private const int FiguresPerTake = 10;
    private static ReadOnlySpan<byte> Magic => "EKWSENRL"u8;

    /// <summary>The file bytes of <paramref name="data"/> (header, payload, SHA-256).</summary>
    public static byte[] Serialize(EnrollmentData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Span<byte> hash = stackalloc byte[FeatureConfigHash.ByteLength];
        if (!FeatureConfigHash.TryParse(data.FeatureConfigHash, hash))
        {
            throw new ArgumentException($"feature config hash '{data.FeatureConfigHash}' is not 64 lowercase hex digits.", nameof(data));
        }

        byte[] phrase = Encoding.UTF8.GetBytes(data.Phrase);
        if (phrase.Length > ushort.MaxValue || data.Takes.Count is 0 or > ushort.MaxValue || data.CoefficientCount is < 2 or > ushort.MaxValue
            || data.TemplateTakeIndex < 0 || data.TemplateTakeIndex >= data.Takes.Count)
        {
            throw new ArgumentException("enrollment: phrase, take count, coefficient count or template index out of range.", nameof(data));
        }

        int payload = FeatureConfigHash.ByteLength + 8 + 2 + phrase.Length + 2 + 2 + 2 + 8;
        foreach (EnrolledTake t in data.Takes)
        {
            if (t.FrameCount is < 1 or > ushort.MaxValue || t.Features.Length != t.FrameCount * data.CoefficientCount)
            {
                throw new ArgumentException($"enrollment: a take has {t.Features.Length} floats for {t.FrameCount} frames x {data.CoefficientCount}.", nameof(data));
            }

            payload += 2 + (FiguresPerTake * 8) + 8 + (t.Features.Length * 4);
        }

        var bytes = new byte[HeaderBytes + payload + DigestBytes];
        var w = new Cursor(bytes);
        Magic.CopyTo(w.Take(8));
        w.U16(Version);
        w.U16(0);
        w.U32((uint)payload);
        hash.CopyTo(w.Take(FeatureConfigHash.ByteLength));
        w.I64(data.CreatedUtc.ToUnixTimeMilliseconds());
        w.U16((ushort)phrase.Length);
        phrase.CopyTo(w.Take(phrase.Length));
        w.U16((ushort)data.CoefficientCount);
        w.U16((ushort)data.Takes.Count);
        w.U16((ushort)data.TemplateTakeIndex);
        w.F64(data.DtwThreshold);
        foreach (EnrolledTake t in data.Takes)
        {
            w.U16((ushort)t.FrameCount);
            TakeFigures f = t.Figures;
            w.F64(f.RecordingMs);
            w.F64(f.SpeechMs ?? double.NaN);
            w.F64(f.SpeechStartMs ?? double.NaN);
            w.F64(f.SnrDb ?? double.NaN);
            w.F64(f.NoiseFloorDbFs ?? double.NaN);
            w.F64(f.SpeechRmsDbFs ?? double.NaN);
            w.F64(f.PeakDbFs);
            w.F64(f.ClippedRatio);
            w.F64(f.ClippedRuns);
            w.F64(f.DtwDistance ?? double.NaN);
            w.F64(t.DtwToTemplate);
            foreach (float v in t.Features)
            {
                w.F32(v);
            }
        }

        SHA256.HashData(bytes.AsSpan(0, HeaderBytes + payload), bytes.AsSpan(HeaderBytes + payload));
        return bytes;
    }

    /// <summary>Parses and verifies file bytes; never throws on bad input.</summary>
    public static bool TryDeserialize(ReadOnlySpan<byte> bytes, out EnrollmentData? data, out string reason)
    {
        data = null;
        if (bytes.Length < HeaderBytes + DigestBytes || !bytes[..8].SequenceEqual(Magic))
        {
            reason = "not an EdgeKws enrollment file (bad magic or too short)";
            return false;
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
        if (version != Version)
        {
            reason = $"format version {version} is not supported (supported: {Version})";
            return false;
        }

        uint payload = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        if (payload != (uint)(bytes.Length - HeaderBytes - DigestBytes))
        {
            reason = $"file is {bytes.Length} bytes but the header says {payload} payload bytes (torn write?)";
            return false;
        }

        Span<byte> digest = stackalloc byte[DigestBytes];
        SHA256.HashData(bytes[..(HeaderBytes + (int)payload)], digest);
        if (!digest.SequenceEqual(bytes[(HeaderBytes + (int)payload)..]))
        {
            reason = "SHA-256 does not match the content (damaged file)";
            return false;
        }

        try
        {
            var r = new Reader(bytes.Slice(HeaderBytes, (int)payload).ToArray());
            string hash = FeatureConfigHash.Format(r.Take(FeatureConfigHash.ByteLength));
            var created = DateTimeOffset.FromUnixTimeMilliseconds(r.I64());
            string phrase = Encoding.UTF8.GetString(r.Take(r.U16()));
            int coefficients = r.U16();
            int takeCount = r.U16();
            int template = r.U16();
            double threshold = r.F64();
            if (takeCount == 0 || template >= takeCount || coefficients < 2)
            {
                reason = $"inconsistent header: {takeCount} takes, template {template}, {coefficients} coefficients";
                return false;
            }

            var takes = new EnrolledTake[takeCount];
            for (int i = 0; i < takeCount; i++)
            {
                int frames = r.U16();
                var fig = new TakeFigures
                {
                    RecordingMs = r.F64(),
                    SpeechMs = Opt(r.F64()),
                    SpeechStartMs = Opt(r.F64()),
                    SnrDb = Opt(r.F64()),
                    NoiseFloorDbFs = Opt(r.F64()),
                    SpeechRmsDbFs = Opt(r.F64()),
                    PeakDbFs = r.F64(),
                    ClippedRatio = r.F64(),
                    ClippedRuns = (int)r.F64(),
                    DtwDistance = Opt(r.F64()),
                };
                double toTemplate = r.F64();
                var features = new float[frames * coefficients];
                for (int k = 0; k < features.Length; k++)
                {
                    features[k] = r.F32();
                }

                takes[i] = new EnrolledTake(features, frames, fig, toTemplate);
            }

            if (!r.AtEnd)
            {
                reason = "trailing bytes after the last take";
                return false;
            }

            data = new EnrollmentData(hash, coefficients, created, phrase, threshold, takes, template);
            reason = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            reason = "payload is shorter than its own counts say";
            return false;
        }
    }

    private static double? Opt(double v) => double.IsNaN(v) ? null : v;

    private ref struct Cursor(Span<byte> buffer)
    {
        private readonly Span<byte> _b = buffer;
        private int _at;

        public Span<byte> Take(int n)
        {
            Span<byte> s = _b.Slice(_at, n);
            _at += n;
            return s;
        }

        public void U16(ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), v);
        public void U32(uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), v);
        public void I64(long v) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), v);
        public void F64(double v) => BinaryPrimitives.WriteDoubleLittleEndian(Take(8), v);
        public void F32(float v) => BinaryPrimitives.WriteSingleLittleEndian(Take(4), v);
    }

    private sealed class Reader(byte[] buffer)
    {
        private int _at;

        public bool AtEnd => _at == buffer.Length;

        public ReadOnlySpan<byte> Take(int n)
        {
            ReadOnlySpan<byte> s = buffer.AsSpan(_at, n);
            _at += n;
            return s;
        }

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
        public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));
    }
}

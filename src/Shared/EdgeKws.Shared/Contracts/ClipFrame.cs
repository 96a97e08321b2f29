using System.Buffers.Binary;

namespace EdgeKws.Shared.Contracts;

/// <summary>
/// Header of a binary clip frame (<see cref="ClipAudio"/> or <see cref="ClipFeatures"/>).
/// Layout, little-endian, <see cref="ClipFrame.HeaderSizeBytes"/> bytes:
/// <code>
///  0  4  magic "EKWA" (audio) or "EKWF" (features)
///  4  2  u16 schema version
///  6  2  u16 header length in bytes (lets a later version append fields)
///  8  4  u32 sample rate, Hz
/// 12  4  u32 frame count (audio: samples; features: feature frames)
/// 16  2  u16 values per frame (audio: channels = 1; features: coefficients)
/// 18  1  u8  value encoding (1 = PCM s16le, 2 = float32 le)
/// 19  1  u8  flags (bit 0: speaker consent to raw audio upload)
/// 20 32  feature configuration hash: the raw SHA-256 digest bytes, in digest order
/// 52  8  i64 device time, Unix milliseconds UTC
/// 60 16  clip id (RFC 4122 byte order)
/// 76  4  u32 payload length in bytes (frame count x values per frame x value size)
/// 80 ..  payload
/// </code>
/// The 80-byte header keeps the payload 16-byte aligned within the frame.
/// </summary>
/// <param name="Kind">Audio or features (from the magic).</param>
/// <param name="SchemaVersion">Schema version of the frame.</param>
/// <param name="SampleRateHz">Sample rate of the audio the clip comes from.</param>
/// <param name="FrameCount">Samples (audio) or feature frames (features).</param>
/// <param name="ValuesPerFrame">1 for mono audio; coefficient count for features.</param>
/// <param name="ConfigHash">Feature configuration hash, held by value so reading a header allocates nothing
/// (<c>ConfigHash.ToString()</c> gives the <see cref="FeatureConfigHash"/> text form).</param>
/// <param name="DeviceTimeUtc">Device time of the clip's detection, millisecond precision.</param>
/// <param name="ClipId">Id that <see cref="DetectionReport.ClipId"/> refers to.</param>
/// <param name="ConsentGranted">Whether the speaker consented to raw audio upload (must be true for audio).</param>
public readonly record struct ClipHeader(
    MessageKind Kind,
    int SchemaVersion,
    int SampleRateHz,
    int FrameCount,
    int ValuesPerFrame,
    FeatureConfigDigest ConfigHash,
    DateTimeOffset DeviceTimeUtc,
    Guid ClipId,
    bool ConsentGranted);

/// <summary>Framing shared by the two clip payloads; allocation-free (spans in, caller-owned buffers).</summary>
public static class ClipFrame
{
    /// <summary>Bytes of the v1 header.</summary>
    public const int HeaderSizeBytes = 80;

    /// <summary>Lowest accepted sample rate.</summary>
    public const int MinSampleRateHz = 8_000;

    /// <summary>Highest accepted sample rate.</summary>
    public const int MaxSampleRateHz = 48_000;

    /// <summary>Offset of the <see cref="FeatureConfigHash.ByteLength"/> hash bytes in the header.</summary>
    public const int ConfigHashOffset = 20;

    internal const uint AudioMagic = 0x4157_4B45; // "EKWA" read as little-endian u32
    internal const uint FeaturesMagic = 0x4657_4B45; // "EKWF"
    internal const byte EncodingPcm16 = 1;
    internal const byte EncodingFloat32 = 2;
    private const byte FlagConsent = 1;

    internal static void WriteHeader(Span<byte> destination, uint magic, int sampleRateHz, int frameCount, int valuesPerFrame,
        byte encoding, bool consent, ReadOnlySpan<byte> configHash, DateTimeOffset deviceTimeUtc, Guid clipId, int payloadBytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)WireLimits.SchemaVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], HeaderSizeBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)sampleRateHz);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)frameCount);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[16..], (ushort)valuesPerFrame);
        destination[18] = encoding;
        destination[19] = consent ? FlagConsent : (byte)0;
        configHash.CopyTo(destination.Slice(ConfigHashOffset, FeatureConfigHash.ByteLength));
        BinaryPrimitives.WriteInt64LittleEndian(destination[52..], deviceTimeUtc.ToUnixTimeMilliseconds());
        clipId.TryWriteBytes(destination.Slice(60, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[76..], (uint)payloadBytes);
    }

    internal static bool TryReadHeader(ReadOnlySpan<byte> frame, uint expectedMagic, byte expectedEncoding, int valueSizeBytes,
        out ClipHeader header, out string reason)
    {
        header = default;
        string what = expectedMagic == AudioMagic ? "audio clip" : "feature clip";
        if (frame.Length < HeaderSizeBytes)
        {
            reason = $"{what} frame is {frame.Length} bytes, shorter than the {HeaderSizeBytes}-byte header";
            return false;
        }
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        if (magic != expectedMagic)
        {
            reason = $"{what} frame has magic 0x{magic:x8}, expected 0x{expectedMagic:x8}";
            return false;
        }
        int schema = BinaryPrimitives.ReadUInt16LittleEndian(frame[4..]);
        if (!Check.Schema(schema, out reason))
        {
            reason = what + ": " + reason;
            return false;
        }
        int headerBytes = BinaryPrimitives.ReadUInt16LittleEndian(frame[6..]);
        if (headerBytes != HeaderSizeBytes)
        {
            reason = $"{what} header length is {headerBytes}, expected {HeaderSizeBytes} for schema {schema}";
            return false;
        }
        uint rate = BinaryPrimitives.ReadUInt32LittleEndian(frame[8..]);
        uint frames = BinaryPrimitives.ReadUInt32LittleEndian(frame[12..]);
        int valuesPerFrame = BinaryPrimitives.ReadUInt16LittleEndian(frame[16..]);
        byte encoding = frame[18];
        byte flags = frame[19];
        var hash = new FeatureConfigDigest(frame.Slice(ConfigHashOffset, FeatureConfigHash.ByteLength));
        long unixMs = BinaryPrimitives.ReadInt64LittleEndian(frame[52..]);
        var clipId = new Guid(frame.Slice(60, 16), bigEndian: true);
        uint payloadBytes = BinaryPrimitives.ReadUInt32LittleEndian(frame[76..]);

        if (rate is < MinSampleRateHz or > MaxSampleRateHz)
        {
            reason = $"{what} sample rate {rate} Hz is outside [{MinSampleRateHz}, {MaxSampleRateHz}]";
            return false;
        }
        if (encoding != expectedEncoding)
        {
            reason = $"{what} value encoding {encoding} is not supported (expected {expectedEncoding})";
            return false;
        }
        if ((flags & ~FlagConsent) != 0)
        {
            reason = $"{what} has unknown flag bits 0x{flags:x2}";
            return false;
        }
        if (unixMs < DateTimeOffset.MinValue.ToUnixTimeMilliseconds() || unixMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            reason = $"{what} device time {unixMs} ms is not a representable time";
            return false;
        }
        var time = DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
        if (!Check.Time("deviceTime", time, out reason))
        {
            reason = what + ": " + reason;
            return false;
        }
        if (clipId == Guid.Empty)
        {
            reason = $"{what} has the empty clip id";
            return false;
        }
        long expectedPayload = (long)frames * valuesPerFrame * valueSizeBytes;
        if (payloadBytes != expectedPayload)
        {
            reason = $"{what} declares {payloadBytes} payload bytes but {frames} frames x {valuesPerFrame} values x {valueSizeBytes} bytes = {expectedPayload}";
            return false;
        }
        if (frame.Length - HeaderSizeBytes != expectedPayload)
        {
            reason = $"{what} frame carries {frame.Length - HeaderSizeBytes} payload bytes, header declares {expectedPayload} (truncated or padded)";
            return false;
        }
        header = new ClipHeader(expectedMagic == AudioMagic ? MessageKind.ClipAudio : MessageKind.ClipFeatures, schema,
            (int)rate, (int)frames, valuesPerFrame, hash, time, clipId, (flags & FlagConsent) != 0);
        reason = string.Empty;
        return true;
    }

    internal static void RequireCommon(int sampleRateHz, ReadOnlySpan<byte> configHash, DateTimeOffset deviceTimeUtc, Guid clipId)
    {
        FeatureConfigHash.RequireDigest(configHash, nameof(configHash));
        if (sampleRateHz is < MinSampleRateHz or > MaxSampleRateHz)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRateHz), sampleRateHz, $"sample rate must be in [{MinSampleRateHz}, {MaxSampleRateHz}] Hz");
        }
        if (deviceTimeUtc.Offset != TimeSpan.Zero)
        {
            throw new ArgumentException($"device time must be UTC, got offset {deviceTimeUtc.Offset}", nameof(deviceTimeUtc));
        }
        if (clipId == Guid.Empty)
        {
            throw new ArgumentException("clip id must not be the empty GUID", nameof(clipId));
        }
    }

    internal static void RequireDestination(Span<byte> destination, int needed)
    {
        if (destination.Length < needed)
        {
            throw new ArgumentException($"destination is {destination.Length} bytes, the frame needs {needed}", nameof(destination));
        }
    }
}

/// <summary>
/// Consent-gated raw audio around a detection: 16-bit PCM mono in a <see cref="ClipFrame"/>.
/// The writer refuses to frame audio without consent and the reader rejects frames without the
/// consent flag, so both ends enforce the rule. Allocation-free.
/// </summary>
public static class ClipAudio
{
    /// <summary>Longest clip accepted: 10 s at 16 kHz.</summary>
    public const int MaxSamples = 160_000;

    /// <summary>Frame size for <paramref name="sampleCount"/> samples.</summary>
    public static int GetFrameSizeBytes(int sampleCount) => ClipFrame.HeaderSizeBytes + (sampleCount * sizeof(short));

    /// <summary>
    /// Writes a frame into <paramref name="destination"/> and returns the bytes written.
    /// <paramref name="configHash"/> is the <see cref="FeatureConfigHash.ByteLength"/>-byte SHA-256 digest
    /// (parse the text form once with <see cref="FeatureConfigHash.TryParse"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">When <paramref name="consentGranted"/> is false.</exception>
    public static int Write(Span<byte> destination, Guid clipId, DateTimeOffset deviceTimeUtc, int sampleRateHz, ReadOnlySpan<byte> configHash,
        bool consentGranted, ReadOnlySpan<short> samples)
    {
        if (!consentGranted)
        {
            throw new InvalidOperationException("raw audio may only be uploaded with the speaker's consent; send ClipFeatures instead");
        }
        ClipFrame.RequireCommon(sampleRateHz, configHash, deviceTimeUtc, clipId);
        if (samples.Length is 0 or > MaxSamples)
        {
            throw new ArgumentException($"clip has {samples.Length} samples, must be 1..{MaxSamples}", nameof(samples));
        }
        int size = GetFrameSizeBytes(samples.Length);
        ClipFrame.RequireDestination(destination, size);
        ClipFrame.WriteHeader(destination, ClipFrame.AudioMagic, sampleRateHz, samples.Length, 1, ClipFrame.EncodingPcm16, consent: true,
            configHash, deviceTimeUtc, clipId, samples.Length * sizeof(short));
        Span<byte> payload = destination[ClipFrame.HeaderSizeBytes..size];
        for (int i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(payload[(i * 2)..], samples[i]);
        }
        return size;
    }

    /// <summary>Validates a frame's header against its length, the limits and the consent rule.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> frame, out ClipHeader header, out string reason)
    {
        if (!ClipFrame.TryReadHeader(frame, ClipFrame.AudioMagic, ClipFrame.EncodingPcm16, sizeof(short), out header, out reason))
        {
            return false;
        }
        if (header.ValuesPerFrame != 1)
        {
            reason = $"audio clip has {header.ValuesPerFrame} channels, only mono is accepted";
            return false;
        }
        if (header.FrameCount is 0 or > MaxSamples)
        {
            reason = $"audio clip has {header.FrameCount} samples, must be 1..{MaxSamples}";
            return false;
        }
        if (!header.ConsentGranted)
        {
            reason = "audio clip lacks the consent flag; raw audio without consent must not be stored";
            return false;
        }
        return true;
    }

    /// <summary>Copies the samples of a frame whose header <see cref="TryReadHeader"/> accepted.</summary>
    public static void ReadSamples(ReadOnlySpan<byte> frame, in ClipHeader header, Span<short> destination)
    {
        if (destination.Length < header.FrameCount)
        {
            throw new ArgumentException($"destination holds {destination.Length} samples, the clip has {header.FrameCount}", nameof(destination));
        }
        ReadOnlySpan<byte> payload = frame[ClipFrame.HeaderSizeBytes..];
        for (int i = 0; i < header.FrameCount; i++)
        {
            destination[i] = BinaryPrimitives.ReadInt16LittleEndian(payload[(i * 2)..]);
        }
    }
}

/// <summary>
/// MFCC features around a detection (the privacy-preserving alternative to raw audio): float32
/// values, frame-major (<c>[frame][coefficient]</c>), in a <see cref="ClipFrame"/>. Allocation-free.
/// </summary>
public static class ClipFeatures
{
    /// <summary>Most feature frames accepted: 10 s at a 10 ms hop.</summary>
    public const int MaxFrames = 1_000;

    /// <summary>Most coefficients per frame accepted.</summary>
    public const int MaxCoefficients = 64;

    /// <summary>Frame size for <paramref name="frameCount"/> frames of <paramref name="coefficientCount"/> values.</summary>
    public static int GetFrameSizeBytes(int frameCount, int coefficientCount) =>
        ClipFrame.HeaderSizeBytes + (frameCount * coefficientCount * sizeof(float));

    /// <summary>
    /// Writes a frame into <paramref name="destination"/> and returns the bytes written.
    /// <paramref name="configHash"/> is the <see cref="FeatureConfigHash.ByteLength"/>-byte SHA-256 digest.
    /// </summary>
    /// <exception cref="ArgumentException">When an argument (including a hash that is not 32 bytes) is invalid.</exception>
    public static int Write(Span<byte> destination, Guid clipId, DateTimeOffset deviceTimeUtc, int sampleRateHz, ReadOnlySpan<byte> configHash,
        int coefficientCount, ReadOnlySpan<float> features)
    {
        ClipFrame.RequireCommon(sampleRateHz, configHash, deviceTimeUtc, clipId);
        if (coefficientCount is < 1 or > MaxCoefficients)
        {
            throw new ArgumentOutOfRangeException(nameof(coefficientCount), coefficientCount, $"coefficient count must be 1..{MaxCoefficients}");
        }
        if (features.Length == 0 || features.Length % coefficientCount != 0)
        {
            throw new ArgumentException($"{features.Length} feature values are not a whole number (>= 1) of {coefficientCount}-coefficient frames", nameof(features));
        }
        int frames = features.Length / coefficientCount;
        if (frames > MaxFrames)
        {
            throw new ArgumentException($"clip has {frames} feature frames (max {MaxFrames})", nameof(features));
        }
        for (int i = 0; i < features.Length; i++)
        {
            if (!float.IsFinite(features[i]))
            {
                throw new ArgumentException($"feature value {i} (frame {i / coefficientCount}, coefficient {i % coefficientCount}) is {features[i]}", nameof(features));
            }
        }
        int size = GetFrameSizeBytes(frames, coefficientCount);
        ClipFrame.RequireDestination(destination, size);
        ClipFrame.WriteHeader(destination, ClipFrame.FeaturesMagic, sampleRateHz, frames, coefficientCount, ClipFrame.EncodingFloat32,
            consent: false, configHash, deviceTimeUtc, clipId, features.Length * sizeof(float));
        Span<byte> payload = destination[ClipFrame.HeaderSizeBytes..size];
        for (int i = 0; i < features.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(payload[(i * 4)..], features[i]);
        }
        return size;
    }

    /// <summary>Validates a frame's header against its length and the limits.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> frame, out ClipHeader header, out string reason)
    {
        if (!ClipFrame.TryReadHeader(frame, ClipFrame.FeaturesMagic, ClipFrame.EncodingFloat32, sizeof(float), out header, out reason))
        {
            return false;
        }
        if (header.ValuesPerFrame is < 1 or > MaxCoefficients)
        {
            reason = $"feature clip has {header.ValuesPerFrame} coefficients per frame, must be 1..{MaxCoefficients}";
            return false;
        }
        if (header.FrameCount is 0 or > MaxFrames)
        {
            reason = $"feature clip has {header.FrameCount} frames, must be 1..{MaxFrames}";
            return false;
        }
        return true;
    }

    /// <summary>
    /// Copies the values of a frame whose header <see cref="TryReadHeader"/> accepted; false (with the
    /// position) if a value is NaN or infinite, which a sane front end never produces.
    /// </summary>
    public static bool TryReadFeatures(ReadOnlySpan<byte> frame, in ClipHeader header, Span<float> destination, out string reason)
    {
        int count = header.FrameCount * header.ValuesPerFrame;
        if (destination.Length < count)
        {
            throw new ArgumentException($"destination holds {destination.Length} values, the clip has {count}", nameof(destination));
        }
        ReadOnlySpan<byte> payload = frame[ClipFrame.HeaderSizeBytes..];
        for (int i = 0; i < count; i++)
        {
            float v = BinaryPrimitives.ReadSingleLittleEndian(payload[(i * 4)..]);
            if (!float.IsFinite(v))
            {
                reason = $"feature value {i} (frame {i / header.ValuesPerFrame}, coefficient {i % header.ValuesPerFrame}) is {v}";
                return false;
            }
            destination[i] = v;
        }
        reason = string.Empty;
        return true;
    }
}

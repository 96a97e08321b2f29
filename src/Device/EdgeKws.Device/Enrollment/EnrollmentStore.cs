using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// Keeps the device's one enrollment in <c>{stateDirectory}/enrollment/enrollment.bin</c>: directory
/// mode 0700, file mode 0600, replaced atomically so that a crash or power cut at any instant
/// leaves either the previous or the new complete enrollment, never a mix.
/// </summary>
/// <remarks>
/// <para>Write: the bytes go to <c>enrollment.bin.tmp</c> (created 0600), which is fsynced, then
/// renamed over <c>enrollment.bin</c> (rename(2) is atomic on POSIX file systems), then the
/// directory is fsynced so the rename itself is durable. A leftover temp file from a killed write is
/// ignored by <see cref="TryLoad"/> and replaced by the next write.</para>
/// <para>File format (little-endian): <c>"EKWSENRL"</c>, u16 format version (1), u16 reserved,
/// u32 payload length, the payload, then the SHA-256 of everything before it. The payload: 32 raw
/// bytes of the feature configuration hash, i64 creation time (Unix ms), u16 + UTF-8 phrase, u16
/// coefficient count, u16 take count, u16 template index, f64 DTW threshold, then per take: u16
/// frame count, 10 f64 figures (NaN for an absent figure; clipped runs as f64), f64 distance to the
/// template, frames x coefficients f32. The digest makes a torn or bit-rotted file fail to load
/// instead of loading wrong features.</para>
/// </remarks>
public sealed partial class EnrollmentStore
{
    /// <summary>File name of the enrollment inside <see cref="Directory"/>.</summary>
    public const string FileName = "enrollment.bin";

    /// <summary>Sub-directory of the state directory.</summary>
    public const string DirectoryName = "enrollment";

    /// <summary>Current file format version.</summary>
    public const ushort FormatVersion = 1;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const int HeaderBytes = 16;
    private const int DigestBytes = 32;
    private const int FiguresPerTake = 10;
    private static ReadOnlySpan<byte> Magic => "EKWSENRL"u8;

    /// <param name="stateDirectory">The agent's state directory (e.g. /var/lib/edgekws).</param>
    public EnrollmentStore(string stateDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stateDirectory);
        Directory = Path.Combine(Path.GetFullPath(stateDirectory), DirectoryName);
        FilePath = Path.Combine(Directory, FileName);
        TempPath = FilePath + ".tmp";
    }

    /// <summary>The enrollment directory (mode 0700).</summary>
    public string Directory { get; }

    /// <summary>The enrollment file (mode 0600).</summary>
    public string FilePath { get; }

    /// <summary>Where a write is staged before the rename.</summary>
    public string TempPath { get; }

    /// <summary>True when an enrollment file exists (it may still fail to load).</summary>
    public bool Exists => File.Exists(FilePath);

    /// <summary>Atomically replaces the stored enrollment with <paramref name="data"/>.</summary>
    /// <exception cref="IOException">The directory or file could not be written; the previous enrollment is unchanged.</exception>
    public void Save(EnrollmentData data)
    {
        byte[] bytes = Serialize(data);
        if (OperatingSystem.IsWindows())
        {
            throw NotOnWindows();
        }

        EnsureDirectory();
        if (File.Exists(TempPath))
        {
            File.Delete(TempPath);
        }

        var options = new FileStreamOptions
        {
            Mode = System.IO.FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = FileMode,
        };
        using (var stream = new FileStream(TempPath, options))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(TempPath, FilePath, overwrite: true);
        FsyncDirectory(Directory);
    }

    /// <summary>Loads and verifies the stored enrollment; false with a reason when there is none or it is damaged.</summary>
    public bool TryLoad(out EnrollmentData? data, out string reason)
    {
        data = null;
        if (!File.Exists(FilePath))
        {
            reason = $"no enrollment at {FilePath}";
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(FilePath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"enrollment {FilePath} could not be read: {ex.Message}";
            return false;
        }

        if (!TryDeserialize(bytes, out data, out reason))
        {
            reason = $"enrollment {FilePath}: {reason}";
            return false;
        }

        return true;
    }

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
        w.U16(FormatVersion);
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
        if (version != FormatVersion)
        {
            reason = $"format version {version} is not supported (supported: {FormatVersion})";
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

    private static PlatformNotSupportedException NotOnWindows() =>
        new("the enrollment store needs POSIX file modes and fsync of a directory (Linux).");

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            throw NotOnWindows();
        }

        string? parent = Path.GetDirectoryName(Directory);
        if (parent is not null)
        {
            System.IO.Directory.CreateDirectory(parent);
        }

        if (!System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.CreateDirectory(Directory, DirectoryMode);
        }

        // An existing directory may have been created wider (by hand, another umask): narrow it.
        if (File.GetUnixFileMode(Directory) != DirectoryMode)
        {
            File.SetUnixFileMode(Directory, DirectoryMode);
        }
    }

    private static void FsyncDirectory(string path)
    {
        // O_RDONLY opens a directory on Linux; O_DIRECTORY is left out because its value differs
        // between x86-64 (0200000) and arm64 (040000).
        int fd = open(path, ORdOnly);
        if (fd < 0)
        {
            throw new IOException($"could not open directory {path} to fsync it: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {path} failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    private const int ORdOnly = 0;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);

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

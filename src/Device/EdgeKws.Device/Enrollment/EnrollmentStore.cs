using System.Runtime.InteropServices;

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
/// <para>The bytes are <see cref="EnrollmentFileFormat"/>'s: this type only decides where they go and
/// how they get there durably.</para>
/// </remarks>
public sealed partial class EnrollmentStore
{
    /// <summary>File name of the enrollment inside <see cref="Directory"/>.</summary>
    public const string FileName = "enrollment.bin";

    /// <summary>Sub-directory of the state directory.</summary>
    public const string DirectoryName = "enrollment";

    /// <summary>Current file format version.</summary>
    public const ushort FormatVersion = EnrollmentFileFormat.Version;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

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
        byte[] bytes = EnrollmentFileFormat.Serialize(data);
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

        if (!EnrollmentFileFormat.TryDeserialize(bytes, out data, out reason))
        {
            reason = $"enrollment {FilePath}: {reason}";
            return false;
        }

        return true;
    }

    /// <summary>The file bytes of <paramref name="data"/> (header, payload, SHA-256); see <see cref="EnrollmentFileFormat"/>.</summary>
    public static byte[] Serialize(EnrollmentData data) => EnrollmentFileFormat.Serialize(data);

    /// <summary>Parses and verifies file bytes; never throws on bad input. See <see cref="EnrollmentFileFormat"/>.</summary>
    public static bool TryDeserialize(ReadOnlySpan<byte> bytes, out EnrollmentData? data, out string reason) =>
        EnrollmentFileFormat.TryDeserialize(bytes, out data, out reason);

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
}

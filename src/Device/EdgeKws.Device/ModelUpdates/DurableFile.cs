using System.Runtime.InteropServices;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// Crash-safe file writes for the slot store: write a temp file, fsync it, rename it over the
/// target (atomic on POSIX file systems), fsync the directory so the rename itself survives a power
/// cut. A reader then sees either the whole old file or the whole new one.
/// </summary>
internal static partial class DurableFile
{
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string temp = path + ".tmp";
        using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            fs.Write(bytes);
            fs.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>fsync of an already written file (e.g. the assembled staging file).</summary>
    public static void Fsync(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Makes a directory's entries (creates, renames, deletes) durable. .NET cannot open a directory
    /// as a stream, so this calls open(2)/fsync(2) directly.
    /// </summary>
    public static void FsyncDirectory(string directory)
    {
        int fd = Open(directory, 0 /* O_RDONLY: works on directories without O_DIRECTORY, whose value differs per arch */);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}

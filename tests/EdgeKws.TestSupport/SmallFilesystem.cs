using System.Diagnostics;
using System.Globalization;

namespace EdgeKws.TestSupport;

/// <summary>
/// A small real filesystem for disk-full tests: a size-limited tmpfs mounted on a fresh directory (root only). The
/// kernel enforces the size exactly as on a full SD card: writes beyond it fail with ENOSPC. Unmounted (lazily, so an
/// open file cannot keep it busy) and removed on dispose.
/// </summary>
public sealed class SmallFilesystem : IDisposable
{
    private readonly List<string> _fillers = [];
    private bool _disposed;

    private SmallFilesystem(string path, long sizeBytes)
    {
        Path = path;
        SizeBytes = sizeBytes;
    }

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>The filesystem's size.</summary>
    public long SizeBytes { get; }

    /// <summary>Bytes free for files now (statvfs).</summary>
    public long AvailableBytes => new DriveInfo(Path).AvailableFreeSpace;

    /// <summary>Bytes the files occupy now (size minus free): on a tmpfs exactly the pages of every file on it.</summary>
    public long UsedBytes
    {
        get
        {
            var d = new DriveInfo(Path);
            return d.TotalSize - d.TotalFreeSpace;
        }
    }

    /// <summary>Mounts a tmpfs of <paramref name="sizeBytes"/>; null with the reason when this machine cannot (not root, not Linux, mount refused).</summary>
    public static SmallFilesystem? TryMount(long sizeBytes, out string whyNot)
    {
        if (!OperatingSystem.IsLinux())
        {
            whyNot = "a tmpfs mount needs Linux";
            return null;
        }
        if (Environment.UserName != "root")
        {
            whyNot = $"mounting a tmpfs needs root (running as '{Environment.UserName}')";
            return null;
        }
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgekws-smallfs-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        (int code, string output) = Run("mount", "-t", "tmpfs", "-o", $"size={sizeBytes.ToString(CultureInfo.InvariantCulture)},mode=0777", "tmpfs", dir);
        if (code != 0)
        {
            Directory.Delete(dir);
            whyNot = $"mount -t tmpfs failed ({code}): {output.Trim()}";
            return null;
        }
        whyNot = string.Empty;
        return new SmallFilesystem(dir, sizeBytes);
    }

    /// <summary>Writes a filler file until the filesystem is full (ENOSPC), leaving <paramref name="leaveBytes"/> free; returns its size.</summary>
    public long Fill(long leaveBytes = 0)
    {
        string path = System.IO.Path.Combine(Path, $"filler-{_fillers.Count}");
        _fillers.Add(path);
        var chunk = new byte[4096];
        long written = 0;
        using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        try
        {
            while (AvailableBytes - chunk.Length >= leaveBytes)
            {
                f.Write(chunk);
                written += chunk.Length;
            }
            f.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            // ENOSPC: the filesystem is full, which is the point.
        }
        return written;
    }

    /// <summary>Deletes every filler file: the space comes back.</summary>
    public void Unfill()
    {
        foreach (string f in _fillers)
        {
            File.Delete(f);
        }
        _fillers.Clear();
    }

    /// <summary>Unmounts (lazily) and removes the mount point.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A lazily unmounted directory may still be busy for a moment; a leftover empty directory in /tmp is harmless.
        }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        try
        {
            using Process p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }
}

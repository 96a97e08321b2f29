using System.Globalization;
using System.Runtime.InteropServices;

namespace EdgeKws.Bench.Report;

/// <summary>The machine a report ran on: read from /proc and the runtime, never typed in.</summary>
public sealed record Machine(string CpuModel, int Cores, double RamGiB, string Os, string Kernel, string DotnetRuntime, string Architecture)
{
    public static Machine Probe()
    {
        string cpu = "unknown";
        foreach (string line in ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal))
            {
                cpu = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                break;
            }
        }
        double ramGiB = double.NaN;
        foreach (string line in ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal)
                && long.TryParse(line["MemTotal:".Length..].Trim().Split(' ')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long kb))
            {
                ramGiB = kb / 1024.0 / 1024.0;
            }
        }
        string os = RuntimeInformation.OSDescription;
        foreach (string line in ReadLines("/etc/os-release"))
        {
            if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) os = line["PRETTY_NAME=".Length..].Trim('"');
        }
        string kernel = ReadLines("/proc/sys/kernel/osrelease").FirstOrDefault() ?? "";
        return new Machine(cpu, Environment.ProcessorCount, ramGiB, os, kernel, RuntimeInformation.FrameworkDescription,
            RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant());
    }

    /// <summary>The 1/5/15-minute load averages: the machine may be shared, so every report says how busy it was.</summary>
    public static string LoadAverage() => ReadLines("/proc/loadavg").FirstOrDefault() is { } l
        ? string.Join(" ", l.Split(' ').Take(3))
        : "unknown";

    private static IEnumerable<string> ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

using System.Globalization;

namespace EdgeKws.Device.Listening;

/// <summary>Resident set size of this process, for heartbeats and the agent's summary.</summary>
public static class ProcessMemory
{
    /// <summary>
    /// RSS in bytes from /proc/self/statm (resident pages x page size), falling back to
    /// <see cref="Environment.WorkingSet"/> where /proc is missing. Allocates a little; call it at
    /// heartbeat cadence, not per frame.
    /// </summary>
    public static long ResidentBytes()
    {
        try
        {
            string statm = File.ReadAllText("/proc/self/statm");
            string[] fields = statm.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 1 && long.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long pages))
            {
                return pages * Environment.SystemPageSize;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return Environment.WorkingSet;
    }
}

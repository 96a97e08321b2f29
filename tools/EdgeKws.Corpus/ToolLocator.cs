namespace EdgeKws.Corpus;

/// <summary>Finds external programs on PATH without running a shell.</summary>
public static class ToolLocator
{
    /// <summary>Gets the full path of <paramref name="program"/> when it is an existing file in a PATH directory.</summary>
    public static bool TryFind(string program, out string path)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                path = candidate;
                return true;
            }
        }

        path = "";
        return false;
    }
}

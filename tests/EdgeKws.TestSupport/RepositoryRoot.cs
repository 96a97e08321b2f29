namespace EdgeKws.TestSupport;

/// <summary>The repository's root (the directory holding EdgeKws.sln), found from the test assembly's location.</summary>
public static class RepositoryRoot
{
    /// <summary>The root directory.</summary>
    /// <exception cref="InvalidOperationException">No EdgeKws.sln above the test assembly.</exception>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = System.IO.Path.GetDirectoryName(d))
        {
            if (File.Exists(System.IO.Path.Combine(d, "EdgeKws.sln")))
            {
                return d;
            }
        }
        throw new InvalidOperationException($"no EdgeKws.sln above {AppContext.BaseDirectory}");
    }
}

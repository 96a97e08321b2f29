namespace EdgeKws.TestSupport;

/// <summary>The repository's root (the directory holding EdgeKws.sln), found from the test assembly's location.</summary>
public static class RepositoryRoot
{
    /// <summary>The root directory.</summary>
    /// <exception cref="InvalidOperationException">No EdgeKws.sln above the test assembly.</exception>
    public static string Path { get; } = Find();

    /// <summary>The full path of <paramref name="relative"/> under the root.</summary>
    /// <exception cref="FileNotFoundException">No such file in the repository.</exception>
    public static string File(string relative)
    {
        string path = System.IO.Path.Combine(Path, relative);
        return System.IO.File.Exists(path) ? path : throw new FileNotFoundException($"'{relative}' not found under {Path}", path);
    }

    private static string Find()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = System.IO.Path.GetDirectoryName(d))
        {
            if (System.IO.File.Exists(System.IO.Path.Combine(d, "EdgeKws.sln")))
            {
                return d;
            }
        }
        throw new InvalidOperationException($"no EdgeKws.sln above {AppContext.BaseDirectory}");
    }
}

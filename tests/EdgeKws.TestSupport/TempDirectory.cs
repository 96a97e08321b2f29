namespace EdgeKws.TestSupport;

/// <summary>
/// A fresh directory under the system temp folder for one test or fixture, deleted on dispose. Set
/// <c>EDGEKWS_KEEP_TEST_OUTPUT=1</c> to keep it for inspection.
/// </summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the directory.</summary>
    public TempDirectory() => Directory.CreateDirectory(Path);

    /// <summary>The directory's full path.</summary>
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgekws-test-" + Guid.NewGuid().ToString("N"));

    /// <summary>
    /// The full path of <paramref name="relative"/> inside the directory, with its parent folders created so a nested path can be
    /// written at once; writes <paramref name="content"/> to it when given.
    /// </summary>
    public string File(string relative, string? content = null)
    {
        string path = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (content is not null)
        {
            System.IO.File.WriteAllText(path, content);
        }
        return path;
    }

    /// <summary>Deletes the directory and everything in it, unless <c>EDGEKWS_KEEP_TEST_OUTPUT=1</c>.</summary>
    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("EDGEKWS_KEEP_TEST_OUTPUT") == "1")
        {
            return;
        }
        try
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A leftover temp directory must not fail a test.
        }
    }
}

using EdgeKws.Shared.Processes;

namespace EdgeKws.Bench.Report;

/// <summary>Finds or builds the agent builds the report measures, and the tools it runs.</summary>
public static class Builds
{
    public const string AgentProject = "src/Device/EdgeKws.Agent";

    /// <summary>The repository root: the nearest directory above <paramref name="start"/> holding EdgeKws.sln.</summary>
    public static string FindRepoRoot(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "EdgeKws.sln"))) return d.FullName;
        }
        throw new InvalidOperationException($"no EdgeKws.sln above {start}: run the bench inside the repository (or pass --repo DIR)");
    }

    /// <summary>The bundled model: the one device manifest in models/default, found by glob so a new version needs no code change.</summary>
    public static string DefaultModelManifest(string repoRoot)
    {
        string dir = Path.Combine(repoRoot, "models", "default");
        string[] manifests = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.manifest.json") : [];
        // *.training-manifest.json does not end in ".manifest.json", so this is the device manifest(s) only.
        Array.Sort(manifests, StringComparer.Ordinal);
        return manifests.Length switch
        {
            0 => throw new InvalidOperationException($"no *.manifest.json in {dir}; pass --model MANIFEST"),
            _ => manifests[^1], // the highest version by name if a helper left two side by side
        };
    }

    /// <summary>NativeAOT publish of the agent for <paramref name="rid"/> (linux-x64 or linux-arm64) from <paramref name="sourceRoot"/>.</summary>
    public static async Task<string> PublishAotAsync(string sourceRoot, string rid, string outDirectory, Action<string> log)
    {
        log($"dotnet publish {AgentProject} -r {rid} -p:PublishAot=true (one to several minutes)");
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync("dotnet",
            ["publish", Path.Combine(sourceRoot, AgentProject), "-c", "Release", "-r", rid, "-p:PublishAot=true", "-o", outDirectory, "-nologo", "-v", "q", "-clp:ErrorsOnly"],
            TimeSpan.FromMinutes(20), CancellationToken.None);
        string binary = Path.Combine(outDirectory, "edgekws-agent");
        if (exit != 0 || !File.Exists(binary))
        {
            throw new InvalidOperationException($"NativeAOT publish for {rid} failed ({exit}): {stdout}{stderr}");
        }
        return binary;
    }

    /// <summary>The JIT build of the agent next to the sources (built if missing): quick mode's x64 agent.</summary>
    public static async Task<string> JitAgentAsync(string sourceRoot, Action<string> log)
    {
        string dll = Path.Combine(sourceRoot, AgentProject, "bin", "Release", "net10.0", "edgekws-agent.dll");
        if (File.Exists(dll)) return dll;
        log($"dotnet build {AgentProject} -c Release");
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync("dotnet",
            ["build", Path.Combine(sourceRoot, AgentProject), "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly"],
            TimeSpan.FromMinutes(10), CancellationToken.None);
        if (exit != 0 || !File.Exists(dll)) throw new InvalidOperationException($"building the agent failed ({exit}): {stdout}{stderr}");
        return dll;
    }

    /// <summary>A detached worktree of <paramref name="gitRef"/> (for --compare REF REF); removed by <see cref="RemoveWorktreeAsync"/>.</summary>
    public static async Task<string> CheckoutAsync(string repoRoot, string gitRef, string directory)
    {
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync("git", ["-C", repoRoot, "worktree", "add", "--detach", directory, gitRef],
            TimeSpan.FromMinutes(2), CancellationToken.None);
        if (exit != 0) throw new ArgumentException($"'{gitRef}' is not a model manifest, an agent binary or a git ref this repository knows: {stderr.Trim()}{stdout.Trim()}");
        return directory;
    }

    public static Task RemoveWorktreeAsync(string repoRoot, string directory) =>
        ExternalProcess.RunAsync("git", ["-C", repoRoot, "worktree", "remove", "--force", directory], TimeSpan.FromMinutes(1), CancellationToken.None);

    public static long FileBytes(string path) => File.Exists(path) ? new FileInfo(path).Length : -1;
}

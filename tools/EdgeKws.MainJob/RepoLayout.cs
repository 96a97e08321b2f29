using System.Text.Json;

namespace EdgeKws.MainJob;

/// <summary>
/// Where the built pieces are: the repository root (found from this tool's location, or the current
/// directory) and the same build configuration as this tool (Release under scripts/main-job.sh).
/// The pipeline's csproj references the gateway host, the agent and the model tool without linking
/// them, so building the pipeline builds them too.
/// </summary>
internal sealed record RepoLayout(string Root, string Configuration)
{
    private const string Framework = "net10.0";

    public string GatewayDll => Path.Combine(Root, "src", "Gateway", "EdgeKws.Gateway.Host", "bin", Configuration, Framework, "EdgeKws.Gateway.Host.dll");
    public string AgentDll => Path.Combine(Root, "src", "Device", "EdgeKws.Agent", "bin", Configuration, Framework, "edgekws-agent.dll");
    public string ModelToolDll => Path.Combine(Root, "tools", "EdgeKws.ModelTool", "bin", Configuration, Framework, "edgekws-model.dll");
    public string DefaultModelDirectory => Path.Combine(Root, "models", "default");

    /// <summary>The labeler's calibration (tools/train/build-label-calibration.sh), or null when not built.</summary>
    public string? LabelCalibration => File.Exists(Path.Combine(Root, "models", "labeling", "label-calibration.json"))
        ? Path.Combine(Root, "models", "labeling", "label-calibration.json") : null;

    /// <summary>The gateway verifier's manifest (tools/train/build-verifier.sh), or null when not built.</summary>
    public string? VerifierManifest => Directory.Exists(Path.Combine(Root, "models", "verifier"))
        ? Directory.EnumerateFiles(Path.Combine(Root, "models", "verifier"), "*.float.manifest.json").Order(StringComparer.Ordinal).LastOrDefault() : null;

    public static RepoLayout Find()
    {
        string baseDir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        // .../bin/{Configuration}/net10.0
        string configuration = Path.GetFileName(Path.GetDirectoryName(baseDir)) is { Length: > 0 } c && c is "Release" or "Debug" ? c : "Release";
        foreach (string start in new[] { baseDir, Directory.GetCurrentDirectory() })
        {
            for (string? d = start; d is not null; d = Path.GetDirectoryName(d))
            {
                if (File.Exists(Path.Combine(d, "EdgeKws.sln")))
                {
                    return new RepoLayout(d, configuration);
                }
            }
        }
        throw new InvalidOperationException($"cannot find the repository (EdgeKws.sln) above {baseDir} or the current directory");
    }

    /// <summary>
    /// The bundled model's INT8 manifest: every <c>*.int8.manifest.json</c> in models/default, the highest
    /// <c>modelVersion</c> wins (so a bumped model is picked up without editing this tool).
    /// </summary>
    public (string ManifestPath, string Version) DefaultModel()
    {
        var candidates = new List<(string Path, string Version)>();
        foreach (string path in Directory.EnumerateFiles(DefaultModelDirectory, "*.int8.manifest.json"))
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.TryGetProperty("modelVersion", out JsonElement v) && v.GetString() is { Length: > 0 } version)
            {
                candidates.Add((path, version));
            }
        }
        if (candidates.Count == 0)
        {
            throw new InvalidOperationException($"no *.int8.manifest.json with a modelVersion in {DefaultModelDirectory}");
        }
        return candidates.OrderByDescending(c => c.Version, VersionComparer.Instance).First();
    }

    private sealed class VersionComparer : IComparer<string>
    {
        public static readonly VersionComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            string[] a = (x ?? "").Split('-', 2)[0].Split('.');
            string[] b = (y ?? "").Split('-', 2)[0].Split('.');
            for (int i = 0; i < Math.Max(a.Length, b.Length); i++)
            {
                int ai = i < a.Length && int.TryParse(a[i], out int p) ? p : 0;
                int bi = i < b.Length && int.TryParse(b[i], out int q) ? q : 0;
                if (ai != bi)
                {
                    return ai.CompareTo(bi);
                }
            }
            return string.CompareOrdinal(x, y);
        }
    }
}

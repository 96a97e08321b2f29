using System.Text.RegularExpressions;

namespace EdgeKws.Architecture.Tests;

/// <summary>
/// The direction of the project graph (docs/architecture.md, "Who may reference whom"): src/Shared is the bottom
/// layer, src/Device and src/Gateway sit on it side by side and never reference each other, tools/ may use src/,
/// and only tests/ references tests/. Each rule checks the whole closure where a transitive reference would break it
/// just the same (the gateway must not link the device's ALSA, GPIO and MQTT code through a library in between).
/// </summary>
public sealed partial class ProjectGraph_Tests
{
    private static readonly ProjectGraph Graph = ProjectGraph.Load();

    [Fact]
    public void Reads_every_project_and_every_reference_points_at_a_project_file()
    {
        // Guards the rules below against passing on an empty or misread graph.
        Assert.Contains("src/Shared/EdgeKws.Detection/EdgeKws.Detection.csproj", Graph.Projects[Device].References);
        Assert.Contains("src/Shared/EdgeKws.Detection/EdgeKws.Detection.csproj", Graph.Projects[ModelLoop].References);
        var dangling = Graph.Projects.Values
            .SelectMany(p => p.References.Where(r => !Graph.Projects.ContainsKey(r)).Select(r => $"{p.Path} -> {r}"))
            .ToList();
        Assert.True(dangling.Count == 0, "project references to files that do not exist:\n" + string.Join('\n', dangling));
    }

    [Fact]
    public void Nothing_in_the_gateway_references_the_device()
    {
        AssertNoReachable(p => p.Area == "src/Gateway", r => r.Area == "src/Device",
            "src/Gateway must not reference src/Device, not even through another project; code both need belongs in src/Shared");
    }

    [Fact]
    public void Nothing_on_the_device_references_the_gateway()
    {
        AssertNoReachable(p => p.Area == "src/Device", r => r.Area == "src/Gateway",
            "src/Device must not reference src/Gateway; code both need belongs in src/Shared");
    }

    [Fact]
    public void Nothing_in_src_or_tools_references_a_test_project()
    {
        AssertNoReachable(p => p.Area is "tools" || p.Area.StartsWith("src/", StringComparison.Ordinal), r => r.Area == "tests",
            "src/ and tools/ must not reference tests/; move what they need into a src or tools library");
    }

    [Fact]
    public void Shared_references_nothing_outside_shared()
    {
        AssertNoReachable(p => p.Area == "src/Shared", r => r.Area != "src/Shared",
            "src/Shared is the bottom layer: it references only src/Shared");
    }

    [Fact]
    public void Device_libraries_reference_only_device_libraries()
    {
        // IsEdgeKwsDeviceLibrary turns on the trim/AOT analyzers; a reference to a project without them would let
        // code the NativeAOT agent links skip that analysis.
        var offending = Graph.Projects.Values
            .Where(p => p.IsDeviceLibrary)
            .SelectMany(p => p.References.Where(r => Graph.Projects.TryGetValue(r, out var n) && !n.IsDeviceLibrary).Select(r => $"{p.Path} -> {r}"))
            .ToList();
        Assert.True(offending.Count == 0,
            "a project with IsEdgeKwsDeviceLibrary references one without it (docs/architecture.md):\n" + string.Join('\n', offending));
    }

    [Fact]
    public void Every_project_is_in_the_solution()
    {
        // scripts/test.sh and CI build EdgeKws.sln: a project outside it is never compiled there and rots unseen.
        string sln = File.ReadAllText(Path.Combine(Graph.Root, "EdgeKws.sln"));
        var inSolution = SolutionProject().Matches(sln).Select(m => m.Groups[1].Value.Replace('\\', '/')).ToHashSet(StringComparer.Ordinal);
        var missing = Graph.Projects.Keys.Where(p => !inSolution.Contains(p)).Order(StringComparer.Ordinal).ToList();
        var stale = inSolution.Where(p => !Graph.Projects.ContainsKey(p)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0 && stale.Count == 0,
            $"not in EdgeKws.sln: [{string.Join(", ", missing)}]; in EdgeKws.sln but not on disk: [{string.Join(", ", stale)}]");
    }

    [Fact]
    public void Peer_libraries_are_referenced_only_by_the_bench_and_tests()
    {
        // NWaves and NAudio.Core are peers and cross-checks (docs/decisions.md, "Design-card libraries"); Iot.Device.Bindings
        // was decided against. None may reach a project under src/ (the device's fixed-memory, AOT hot path or the gateway).
        string[] peers = ["NWaves", "NAudio.Core", "NAudio", "Iot.Device.Bindings"];
        var users = new List<string>();
        foreach (ProjectNode p in Graph.Projects.Values.OrderBy(p => p.Path, StringComparer.Ordinal))
        {
            string text = File.ReadAllText(Path.Combine(Graph.Root, p.Path));
            foreach (string package in peers)
            {
                if (text.Contains($"<PackageReference Include=\"{package}\"", StringComparison.OrdinalIgnoreCase))
                {
                    users.Add($"{p.Path}: {package}");
                }
            }
        }

        var allowed = new[]
        {
            "tests/EdgeKws.Shared.Tests/EdgeKws.Shared.Tests.csproj: NAudio.Core",
            "tests/EdgeKws.Shared.Tests/EdgeKws.Shared.Tests.csproj: NWaves",
            "tools/EdgeKws.Bench/EdgeKws.Bench.csproj: NWaves",
        };
        Assert.Equal(allowed, users.Order(StringComparer.Ordinal));
    }

    private const string Device = "src/Device/EdgeKws.Device/EdgeKws.Device.csproj";
    private const string ModelLoop = "src/Gateway/EdgeKws.ModelLoop/EdgeKws.ModelLoop.csproj";

    private static void AssertNoReachable(Func<ProjectNode, bool> from, Func<ProjectNode, bool> forbidden, string rule)
    {
        var offending = new List<string>();
        foreach (ProjectNode p in Graph.Projects.Values.Where(from).OrderBy(p => p.Path, StringComparer.Ordinal))
        {
            foreach (string r in Graph.Closure(p.Path).Order(StringComparer.Ordinal))
            {
                if (Graph.Projects.TryGetValue(r, out ProjectNode? target) && forbidden(target))
                {
                    offending.Add($"{p.Path} -> ... -> {r}");
                }
            }
        }

        Assert.True(offending.Count == 0, $"{rule} (docs/architecture.md):\n" + string.Join('\n', offending));
    }

    [GeneratedRegex("""^Project\("\{[^}]+\}"\) = "[^"]+", "([^"]+\.csproj)",""", RegexOptions.Multiline)]
    private static partial Regex SolutionProject();
}

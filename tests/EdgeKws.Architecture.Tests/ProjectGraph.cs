using System.Xml.Linq;
using EdgeKws.TestSupport;

namespace EdgeKws.Architecture.Tests;

/// <summary>One project file: its path from the repository root (with '/') and the project files it references.</summary>
public sealed record ProjectNode(string Path, IReadOnlyList<string> References, IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>The project's top folder and, under src/, its layer: "src/Shared", "src/Device", "tools", "tests" ...</summary>
    public string Area => Path.StartsWith("src/", StringComparison.Ordinal) ? string.Join('/', Path.Split('/')[..2]) : Path.Split('/')[0];

    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);

    public bool IsDeviceLibrary => Properties.TryGetValue("IsEdgeKwsDeviceLibrary", out string? v) && v == "true";
}

/// <summary>
/// Every .csproj under src/, tools/ and tests/, read as XML: ProjectReference items (resolved against the project's
/// folder) and the properties a rule needs. What the build would resolve is the same thing: these files are the graph.
/// </summary>
public sealed class ProjectGraph
{
    private ProjectGraph(string root, IReadOnlyDictionary<string, ProjectNode> projects)
    {
        Root = root;
        Projects = projects;
    }

    public string Root { get; }

    /// <summary>By path from the repository root.</summary>
    public IReadOnlyDictionary<string, ProjectNode> Projects { get; }

    public static ProjectGraph Load()
    {
        string root = RepositoryRoot.Path;
        var projects = new Dictionary<string, ProjectNode>(StringComparer.Ordinal);
        foreach (string top in new[] { "src", "tools", "tests" })
        {
            foreach (string file in Directory.EnumerateFiles(Path.Combine(root, top), "*.csproj", SearchOption.AllDirectories))
            {
                string relative = Relative(root, file);
                if (relative.Split('/').Any(part => part is "bin" or "obj"))
                {
                    continue;
                }

                projects.Add(relative, Read(root, file, relative));
            }
        }

        return new ProjectGraph(root, projects);
    }

    /// <summary>Projects reachable from <paramref name="path"/> through project references (itself excluded).</summary>
    public IReadOnlySet<string> Closure(string path)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(Projects[path].References);
        while (stack.Count > 0)
        {
            string next = stack.Pop();
            if (seen.Add(next) && Projects.TryGetValue(next, out ProjectNode? node))
            {
                foreach (string r in node.References)
                {
                    stack.Push(r);
                }
            }
        }

        return seen;
    }

    private static ProjectNode Read(string root, string file, string relative)
    {
        XDocument doc = XDocument.Load(file);
        string folder = Path.GetDirectoryName(file)!;
        var references = doc.Descendants()
            .Where(e => e.Name.LocalName == "ProjectReference" && e.Attribute("Include") is not null)
            .Select(e => Relative(root, Path.GetFullPath(Path.Combine(folder, e.Attribute("Include")!.Value.Replace('\\', '/')))))
            .ToList();
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (XElement p in doc.Descendants().Where(e => e.Parent?.Name.LocalName == "PropertyGroup"))
        {
            properties[p.Name.LocalName] = p.Value.Trim();
        }

        return new ProjectNode(relative, references, properties);
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');
}

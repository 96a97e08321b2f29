using System.Text.RegularExpressions;

namespace EdgeKws.Architecture.Tests;

/// <summary>
/// The size rule (docs/architecture.md, "Type sizes"): a source file under src/ longer than <see cref="MaxLines"/> lines
/// is listed in that section's table with a written reason why it stays whole, or "to split". The table is checked both
/// ways, so it cannot go stale: a long file missing from it fails, and so does a listed file that is gone or has shrunk
/// to the limit or below (its row must then be removed).
/// </summary>
public sealed partial class TypeSizes_Tests
{
    /// <summary>Longest src/ source file that needs no written reason.</summary>
    public const int MaxLines = 400;

    private const string Section = "## Type sizes";

    private static readonly string Root = ProjectGraph.Load().Root;

    [Fact]
    public void Every_src_file_over_the_limit_is_listed_with_a_reason()
    {
        IReadOnlyDictionary<string, string> listed = ReadTable();
        var missing = LongSourceFiles()
            .Where(f => !listed.ContainsKey(f.Path))
            .Select(f => $"{f.Path} ({f.Lines} lines)")
            .ToList();
        Assert.True(missing.Count == 0,
            $"src/ files over {MaxLines} lines without a row in docs/architecture.md, \"Type sizes\" (split the file, or add a row "
            + "saying why it stays whole):\n" + string.Join('\n', missing));
    }

    [Fact]
    public void Every_listed_file_exists_and_is_still_over_the_limit()
    {
        var lengths = LongSourceFiles().ToDictionary(f => f.Path, f => f.Lines, StringComparer.Ordinal);
        var stale = new List<string>();
        foreach (string path in ReadTable().Keys)
        {
            string full = Path.Combine(Root, path);
            if (!File.Exists(full))
            {
                stale.Add($"{path}: no such file");
            }
            else if (!lengths.ContainsKey(path))
            {
                stale.Add($"{path}: {CountLines(full)} lines, not over {MaxLines}");
            }
        }

        Assert.True(stale.Count == 0,
            "rows of docs/architecture.md, \"Type sizes\" that no longer apply (remove them):\n" + string.Join('\n', stale));
    }

    [Fact]
    public void Every_row_has_a_reason()
    {
        // Also guards the two rules above against passing on a table this test failed to read.
        IReadOnlyDictionary<string, string> listed = ReadTable();
        Assert.NotEmpty(listed);
        var blank = listed.Where(r => string.IsNullOrWhiteSpace(r.Value)).Select(r => r.Key).ToList();
        Assert.True(blank.Count == 0, "rows without a reason:\n" + string.Join('\n', blank));
    }

    /// <summary>Every .cs file under src/ (build output excluded) with more than <see cref="MaxLines"/> lines, by path from the root.</summary>
    private static IEnumerable<(string Path, int Lines)> LongSourceFiles()
    {
        foreach (string file in Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Root, file).Replace('\\', '/');
            if (relative.Split('/').Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            int lines = CountLines(file);
            if (lines > MaxLines)
            {
                yield return (relative, lines);
            }
        }
    }

    // Lines as an editor numbers them (wc -l for a file that ends with a newline).
    private static int CountLines(string file) => File.ReadAllLines(file).Length;

    /// <summary>The table's rows as path -> reason; a path listed twice fails.</summary>
    private static IReadOnlyDictionary<string, string> ReadTable()
    {
        string[] doc = File.ReadAllLines(Path.Combine(Root, "docs", "architecture.md"));
        int start = Array.FindIndex(doc, l => l.TrimEnd() == Section);
        Assert.True(start >= 0, $"docs/architecture.md has no \"{Section}\" section");
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = start + 1; i < doc.Length && !doc[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            Match row = Row().Match(doc[i]);
            if (row.Success)
            {
                Assert.True(rows.TryAdd(row.Groups["path"].Value, row.Groups["reason"].Value.Trim()),
                    $"{row.Groups["path"].Value} is listed twice in \"{Section}\"");
            }
        }

        return rows;
    }

    [GeneratedRegex("""^\|\s*`(?<path>src/[^`]+\.cs)`\s*\|(?<reason>.*)\|\s*$""")]
    private static partial Regex Row();
}

using System.Text.RegularExpressions;

namespace EdgeKws.Labeling.Import;

/// <summary>
/// Reads the Google Speech Commands folder layout: <c>&lt;label&gt;/&lt;speaker hash&gt;_nohash_&lt;n&gt;.wav</c>,
/// with <c>validation_list.txt</c> and <c>testing_list.txt</c> naming the held-out files (relative
/// paths, one per line); every other clip is train. The speaker is the hash prefix of the file name,
/// which is how the dataset itself keeps speakers out of two splits. <c>_background_noise_</c> holds
/// long noise recordings, returned separately (they are not labelled clips).
/// </summary>
public static partial class SpeechCommandsReader
{
    /// <summary>The folder of long background-noise recordings.</summary>
    public const string BackgroundNoiseFolder = "_background_noise_";

    /// <summary>Reads every clip under <paramref name="root"/>.</summary>
    /// <exception cref="LabelFormatException">A list names a missing file or a file twice, or names it in both lists; a clip's name has no speaker hash.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    public static IReadOnlyList<LabeledClip> Read(string root, out IReadOnlyList<string> backgroundNoiseFiles)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Speech Commands root '{root}' does not exist.");
        }

        var split = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadList(root, "validation_list.txt", SplitNames.Validation, split);
        ReadList(root, "testing_list.txt", SplitNames.Test, split);

        var clips = new List<LabeledClip>();
        foreach (string dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            string label = Path.GetFileName(dir);
            if (label == BackgroundNoiseFolder || label.StartsWith('.'))
            {
                continue;
            }

            foreach (string wav in Directory.EnumerateFiles(dir, "*.wav").Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileName(wav);
                Match m = ClipName().Match(name);
                if (!m.Success)
                {
                    throw new LabelFormatException(wav, 0, "a Speech Commands clip is named '<speaker hash>_nohash_<n>.wav'; this name has no speaker hash.");
                }

                string rel = label + "/" + name;
                string s = split.GetValueOrDefault(rel, SplitNames.Train);
                split.Remove(rel);
                clips.Add(new LabeledClip(wav, rel, label, m.Groups[1].Value, s, null, new LabelSource(LabelKinds.Import, "speech-commands")));
            }
        }

        // Whatever is left in the lists was never found on disk.
        foreach ((string rel, string s) in split)
        {
            string list = s == SplitNames.Validation ? "validation_list.txt" : "testing_list.txt";
            throw new LabelFormatException(Path.Combine(root, list), LineOf(Path.Combine(root, list), rel), $"'{rel}' is listed but no such clip exists.");
        }

        string noiseDir = Path.Combine(root, BackgroundNoiseFolder);
        backgroundNoiseFiles = Directory.Exists(noiseDir) ? [.. Directory.EnumerateFiles(noiseDir, "*.wav").Order(StringComparer.Ordinal)] : [];
        return clips;
    }

    private static void ReadList(string root, string fileName, string splitName, Dictionary<string, string> split)
    {
        string path = Path.Combine(root, fileName);
        if (!File.Exists(path))
        {
            return;
        }

        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string rel = lines[i].Trim().Replace('\\', '/');
            if (rel.Length == 0)
            {
                continue;
            }

            if (rel.Count(c => c == '/') != 1 || !rel.EndsWith(".wav", StringComparison.Ordinal))
            {
                throw new LabelFormatException(path, i + 1, $"expected '<label>/<file>.wav'; got '{rel}'.");
            }

            if (split.TryGetValue(rel, out string? other))
            {
                throw new LabelFormatException(path, i + 1, other == splitName ? $"'{rel}' is listed twice." : $"'{rel}' is also in the {other} list: a clip belongs to one split.");
            }

            split[rel] = splitName;
        }
    }

    private static int LineOf(string path, string rel)
    {
        string[] lines = File.ReadAllLines(path);
        return Array.FindIndex(lines, l => l.Trim().Replace('\\', '/') == rel) + 1;
    }

    [GeneratedRegex(@"^([0-9a-fA-F]+)_nohash_\d+\.wav$")]
    private static partial Regex ClipName();
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeKws.Corpus.Manifest;

/// <summary>Writes the ground truth next to a WAV: <c>.json</c> (the manifest record), Kaldi <c>.ctm</c> and Praat <c>.TextGrid</c>.</summary>
public static class GroundTruthWriter
{
    /// <summary>Writes all three sidecars for <paramref name="file"/> under <paramref name="root"/>.</summary>
    public static void Write(string root, CorpusFile file)
    {
        string wav = Path.Combine(root, file.Path);
        string stem = wav[..^4];
        using (FileStream s = File.Create(stem + ".json"))
        {
            JsonSerializer.Serialize(s, file, CorpusJson.Context.CorpusFile);
        }

        File.WriteAllText(stem + ".ctm", Ctm(Path.GetFileNameWithoutExtension(file.Path), file.Words));
        File.WriteAllText(stem + ".TextGrid", TextGrid(file.DurationMs, file.Words));
    }

    /// <summary>CTM lines: <c>utterance 1 start duration word</c> in seconds.</summary>
    public static string Ctm(string utterance, IReadOnlyList<WordInterval> words)
    {
        var sb = new StringBuilder();
        foreach (WordInterval w in words)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{utterance} 1 {w.StartMs / 1000:0.0000} {(w.EndMs - w.StartMs) / 1000:0.0000} {w.Word.Replace(' ', '_')}\n");
        }

        return sb.ToString();
    }

    /// <summary>A Praat long-format TextGrid with one "words" tier; pauses are empty intervals.</summary>
    public static string TextGrid(double durationMs, IReadOnlyList<WordInterval> words)
    {
        var intervals = new List<(double Start, double End, string Text)>();
        double t = 0;
        foreach (WordInterval w in words)
        {
            if (w.StartMs > t)
            {
                intervals.Add((t, w.StartMs, ""));
            }

            intervals.Add((w.StartMs, w.EndMs, w.Word));
            t = w.EndMs;
        }

        if (t < durationMs)
        {
            intervals.Add((t, durationMs, ""));
        }

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        double xmax = durationMs / 1000;
        sb.Append("File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n");
        sb.Append(inv, $"xmin = 0\nxmax = {xmax:0.######}\ntiers? <exists>\nsize = 1\nitem []:\n");
        sb.Append(inv, $"    item [1]:\n        class = \"IntervalTier\"\n        name = \"words\"\n        xmin = 0\n        xmax = {xmax:0.######}\n        intervals: size = {intervals.Count}\n");
        for (int i = 0; i < intervals.Count; i++)
        {
            (double s, double e, string text) = intervals[i];
            sb.Append(inv, $"        intervals [{i + 1}]:\n            xmin = {s / 1000:0.######}\n            xmax = {e / 1000:0.######}\n            text = \"{text}\"\n");
        }

        return sb.ToString();
    }
}

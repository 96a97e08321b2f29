namespace EdgeKws.Labeling.Import;

/// <summary>Checks shared by every importer: times finite, non-negative, end after start, words in order.</summary>
internal static class WordIntervalRules
{
    /// <summary>Markers aligners write for silence and pauses; they are not words.</summary>
    public static bool IsSilence(string text) =>
        text.Length == 0 || text is "sil" or "sp" or "<eps>" or "<sil>" or "SIL" or "<s>" or "</s>" or "[SIL]";

    public static void Check(string file, int line, string word, double startMs, double endMs)
    {
        if (!double.IsFinite(startMs) || !double.IsFinite(endMs))
        {
            throw new LabelFormatException(file, line, $"word '{word}' has a time that is not a finite number.");
        }

        if (startMs < 0)
        {
            throw new LabelFormatException(file, line, $"word '{word}' starts before 0 ({startMs} ms).");
        }

        if (endMs <= startMs)
        {
            throw new LabelFormatException(file, line, $"word '{word}' ends ({endMs} ms) at or before its start ({startMs} ms).");
        }
    }

    /// <summary>Words must not go back in time: overlapping intervals mean a corrupt or mis-merged file.</summary>
    public static void CheckOrder(string file, int line, WordSpan? previous, WordSpan next)
    {
        // 0.5 ms slack: formats that round to 10 ms frames or 4 decimals can touch.
        if (previous is not null && next.StartMs < previous.EndMs - 0.5)
        {
            throw new LabelFormatException(file, line, $"word '{next.Word}' starts at {next.StartMs} ms, before the previous word '{previous.Word}' ends ({previous.EndMs} ms).");
        }
    }
}

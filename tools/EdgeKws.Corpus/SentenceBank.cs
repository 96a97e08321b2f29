namespace EdgeKws.Corpus;

/// <summary>
/// Sentence templates (lower-case words, no punctuation: the engines read each word alone). A template
/// is used as a keyword-free sentence only when no keyword's word sequence occurs in it.
/// </summary>
public static class SentenceBank
{
    /// <summary>The templates in their fixed order.</summary>
    public static IReadOnlyList<string> Templates { get; } =
    [
        "what time is it",
        "turn off the kitchen light",
        "the weather is nice today",
        "please call my sister tomorrow",
        "set a timer for ten minutes",
        "where did i leave my keys",
        "the train leaves at seven",
        "how far is the nearest station",
        "remind me to buy milk",
        "open the garage door",
        "i would like a cup of tea",
        "can you read the news",
        "the children are playing outside",
        "we should paint the fence",
        "my phone battery is low",
        "turn up the heating a little",
        "what is on the calendar",
        "the meeting starts at noon",
        "add apples to the shopping list",
        "how tall is that mountain",
        "close the window in the bedroom",
        "the dog wants to go for a walk",
        "send a message to the office",
        "read me a short story",
    ];

    /// <summary>Splits text into lower-case words.</summary>
    public static string[] Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>True when the word sequence <paramref name="phrase"/> occurs in <paramref name="words"/>.</summary>
    public static bool Contains(IReadOnlyList<string> words, IReadOnlyList<string> phrase)
    {
        for (int i = 0; i + phrase.Count <= words.Count; i++)
        {
            int k = 0;
            while (k < phrase.Count && words[i + k] == phrase[k])
            {
                k++;
            }

            if (k == phrase.Count)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Templates that contain none of <paramref name="keywords"/>.</summary>
    public static IReadOnlyList<string> KeywordFree(IReadOnlyList<string> keywords)
    {
        var phrases = keywords.Select(Words).ToList();
        return Templates.Where(t => !phrases.Any(p => Contains(Words(t), p))).ToList();
    }
}

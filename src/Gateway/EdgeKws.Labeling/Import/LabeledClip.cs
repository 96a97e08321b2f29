namespace EdgeKws.Labeling.Import;

/// <summary>Split names used throughout (the dataset format's names).</summary>
public static class SplitNames
{
    /// <summary>Training split.</summary>
    public const string Train = "train";

    /// <summary>Validation (development) split.</summary>
    public const string Validation = "validation";

    /// <summary>Test split.</summary>
    public const string Test = "test";

    /// <summary>The three, in export order.</summary>
    public static IReadOnlyList<string> All { get; } = [Train, Validation, Test];
}

/// <summary>One labelled clip of a keyword corpus (Speech Commands or MSWC layout).</summary>
/// <param name="AudioPath">Absolute path of the audio file.</param>
/// <param name="RelativePath">Path relative to the corpus root, '/' separated (the source-recording id).</param>
/// <param name="Label">The word the clip holds (its folder name).</param>
/// <param name="Speaker">Speaker id (Speech Commands: the hash prefix of the file name; MSWC: the SPEAKER column).</param>
/// <param name="Split">train, validation or test.</param>
/// <param name="Word">The word's interval inside the clip when an alignment is known, else null.</param>
/// <param name="Source">Where the label came from.</param>
public sealed record LabeledClip(string AudioPath, string RelativePath, string Label, string Speaker, string Split, WordSpan? Word, LabelSource Source);

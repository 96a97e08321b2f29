using System.Globalization;

namespace EdgeKws.Pipeline;

/// <summary>Command-line options of the main job.</summary>
internal sealed record MainJobOptions
{
    public const string Usage = """
        usage: edgekws-main-job [--out DIR] [--text "phrase"] [--seconds N] [--help]
          --out DIR       where generated audio, features and the report go (default artifacts/main-job)
          --text PHRASE   what the synthetic speaker says (default: a sentence with the wake phrase)
          --seconds N     length of the generated recording in seconds (default 30)
        """;

    public string OutputDirectory { get; init; } = Path.Combine("artifacts", "main-job");
    public string Text { get; init; } = "hey edge, turn on the kitchen lights please";
    public int Seconds { get; init; } = 30;
    public bool ShowHelp { get; init; }

    public static MainJobOptions? Parse(string[] args, out string? error)
    {
        var o = new MainJobOptions();
        error = null;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Next()
            {
                if (i + 1 < args.Length) return args[++i];
                return null;
            }
            switch (a)
            {
                case "--help" or "-h": o = o with { ShowHelp = true }; break;
                case "--out": o = o with { OutputDirectory = Next() ?? "" }; break;
                case "--text": o = o with { Text = Next() ?? "" }; break;
                case "--seconds":
                    string? s = Next();
                    if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int secs) || secs is < 1 or > 24 * 3600)
                    {
                        error = $"--seconds: '{s}' must be a whole number of seconds between 1 and 86400";
                        return null;
                    }
                    o = o with { Seconds = secs };
                    break;
                default:
                    error = $"unknown argument '{a}'";
                    return null;
            }
        }
        if (string.IsNullOrWhiteSpace(o.OutputDirectory)) { error = "--out needs a directory"; return null; }
        if (string.IsNullOrWhiteSpace(o.Text)) { error = "--text needs a phrase"; return null; }
        return o;
    }
}

using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Import;

namespace EdgeKws.Labeling.Tests.Import;

public sealed class TextGridReader_Tests
{
    // What MFA 2.x writes: long format, a "words" and a "phones" tier, pauses as empty intervals.
    private const string LongFormat = """
        File type = "ooTextFile"
        Object class = "TextGrid"

        xmin = 0
        xmax = 2.5
        tiers? <exists>
        size = 2
        item []:
            item [1]:
                class = "IntervalTier"
                name = "words"
                xmin = 0
                xmax = 2.5
                intervals: size = 4
                intervals [1]:
                    xmin = 0
                    xmax = 0.31
                    text = ""
                intervals [2]:
                    xmin = 0.31
                    xmax = 0.62
                    text = "hey"
                intervals [3]:
                    xmin = 0.62
                    xmax = 1.05
                    text = "edge"
                intervals [4]:
                    xmin = 1.05
                    xmax = 2.5
                    text = "sil"
            item [2]:
                class = "IntervalTier"
                name = "phones"
                xmin = 0
                xmax = 2.5
                intervals: size = 1
                intervals [1]:
                    xmin = 0
                    xmax = 2.5
                    text = "HH"
        """;

    private const string ShortFormat = """"
        File type = "ooTextFile"
        Object class = "TextGrid"

        0
        2.5
        <exists>
        1
        "IntervalTier"
        "speaker1 - words"
        0
        2.5
        3
        0
        0.31
        ""
        0.31
        0.62
        "hey"
        0.62
        2.5
        "say ""edge"""
        """";

    [Fact]
    public void Reads_the_word_tier_of_the_long_format_skipping_pauses()
    {
        using var dir = new TempDirectory();
        WordAlignment a = TextGridReader.ReadWords(dir.File("a.TextGrid", LongFormat));
        Assert.Equal(["hey", "edge"], a.Words.Select(w => w.Word));
        Assert.Equal(310, a.Words[0].StartMs, 6);
        Assert.Equal(1050, a.Words[1].EndMs, 6);
        Assert.Equal("praat-textgrid", a.Source.Tool);
    }

    [Fact]
    public void Reads_the_short_format_with_mfa_speaker_tier_names_and_doubled_quotes()
    {
        using var dir = new TempDirectory();
        WordAlignment a = TextGridReader.ReadWords(dir.File("a.TextGrid", ShortFormat));
        Assert.Equal(["hey", "say \"edge\""], a.Words.Select(w => w.Word));
        Assert.Equal(620, a.Words[1].StartMs, 6);
    }

    [Fact]
    public void Reads_crlf_files_and_the_old_short_header_and_gives_the_tier_s_speaker()
    {
        using var dir = new TempDirectory();
        string crlf = ShortFormat.Replace("\"ooTextFile\"", "\"ooTextFile short\"").Replace("\n", "\r\n");
        WordAlignment a = TextGridReader.ReadWords(dir.File("a.TextGrid", crlf), "words", out string? speaker);
        Assert.Equal(["hey", "say \"edge\""], a.Words.Select(w => w.Word));
        Assert.Equal("speaker1", speaker);
        TextGridReader.ReadWords(dir.File("b.TextGrid", LongFormat.Replace("\n", "\r\n")), "words", out string? none);
        Assert.Null(none);

        // Line numbers count CRLF line ends once.
        string bad = dir.File("bad.TextGrid", LongFormat.Replace("xmax = 0.62\n", "xmax = 0.6x2\n").Replace("\n", "\r\n"));
        Assert.Equal(21, Assert.Throws<LabelFormatException>(() => TextGridReader.ReadWords(bad)).Line);
    }

    [Fact]
    public void Names_the_tiers_when_the_word_tier_is_missing()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<LabelFormatException>(() => TextGridReader.ReadWords(dir.File("a.TextGrid", LongFormat), "orthography"));
        Assert.Contains("'words', 'phones'", e.Message);
    }

    [Fact]
    public void Names_file_and_line_of_a_bad_number()
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.TextGrid", LongFormat.Replace("xmax = 0.62\n", "xmax = 0.6x2\n"));
        var e = Assert.Throws<LabelFormatException>(() => TextGridReader.ReadWords(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(21, e.Line);
        Assert.StartsWith(path + ":21:", e.Message);
        Assert.Contains("0.6x2", e.Message);
    }

    [Fact]
    public void Reports_a_truncated_file_at_its_last_line()
    {
        using var dir = new TempDirectory();
        string cut = string.Join('\n', LongFormat.Split('\n')[..20]);
        var e = Assert.Throws<LabelFormatException>(() => TextGridReader.ReadWords(dir.File("cut.TextGrid", cut)));
        Assert.Contains("truncated", e.Message);
        Assert.Equal(20, e.Line);
    }

    [Fact]
    public void Refuses_a_binary_praat_file_by_name()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<LabelFormatException>(() => TextGridReader.ReadWords(dir.File("b.TextGrid", "ooBinaryFile\u0008TextGrid")));
        Assert.Contains("binary", e.Message);
    }

    [Fact]
    public void Round_trips_the_generator_s_textgrid_within_a_microsecond()
    {
        using var dir = new TempDirectory();
        WordInterval[] truth = [new("hey", 289.8125, 700.875), new("edge", 757.875, 1080.125), new("hey edge", 1200, 1900.0625)];
        string path = dir.File("g.TextGrid", GroundTruthWriter.TextGrid(2500, truth));
        WordAlignment a = TextGridReader.ReadWords(path);
        Assert.Equal(truth.Select(w => w.Word), a.Words.Select(w => w.Word));
        for (int i = 0; i < truth.Length; i++)
        {
            Assert.Equal(truth[i].StartMs, a.Words[i].StartMs, 0.001);
            Assert.Equal(truth[i].EndMs, a.Words[i].EndMs, 0.001);
        }
    }
}

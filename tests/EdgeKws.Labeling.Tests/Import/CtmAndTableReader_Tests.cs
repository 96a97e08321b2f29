using EdgeKws.Corpus.Manifest;
using EdgeKws.Labeling.Import;

namespace EdgeKws.Labeling.Tests.Import;

public sealed class CtmReader_Tests
{
    [Fact]
    public void Groups_words_by_utterance_and_keeps_confidence()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.ctm", ";; comment\nu1 1 0.30 0.25 hey 0.9\nu1 1 0.62 0.40 edge 0.8\nu2 A 1.00 0.50 <sil>\nu2 A 1.50 0.20 stop\n");
        IReadOnlyList<WordAlignment> a = CtmReader.Read(path);
        Assert.Equal(["u1", "u2"], a.Select(x => x.Utterance));
        Assert.Equal(["hey", "edge"], a[0].Words.Select(w => w.Word));
        Assert.Equal(1020, a[0].Words[1].EndMs, 6);
        Assert.Equal(0.8, a[0].Words[1].Confidence);
        Assert.Equal(["stop"], a[1].Words.Select(w => w.Word));
    }

    [Fact]
    public void Names_the_line_with_too_few_fields()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.ctm", "u1 1 0.30 0.25 hey\nu1 1 0.62 edge\n");
        var e = Assert.Throws<LabelFormatException>(() => CtmReader.Read(path));
        Assert.Equal(2, e.Line);
        Assert.Contains("5 or 6 fields", e.Message);
    }

    [Fact]
    public void Rejects_words_that_go_back_in_time()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.ctm", "u1 1 0.30 0.25 hey\nu1 1 0.10 0.20 edge\n");
        var e = Assert.Throws<LabelFormatException>(() => CtmReader.Read(path));
        Assert.Equal(2, e.Line);
        Assert.Contains("before the previous word", e.Message);
    }

    [Fact]
    public void Reads_the_generator_s_ctm_with_phrases_rejoined()
    {
        using var dir = new TempDirectory();
        WordInterval[] truth = [new("hey edge", 250, 1000.5), new("stop", 1100.0625, 1400)];
        string path = dir.File("k.ctm", GroundTruthWriter.Ctm("k", truth));
        WordAlignment a = Assert.Single(CtmReader.Read(path));
        Assert.Equal(["hey edge", "stop"], a.Words.Select(w => w.Word));
        // The CTM has 4 decimals of seconds: 0.1 ms.
        Assert.Equal(1100.0625, a.Words[1].StartMs, 0.1);
    }
}

public sealed class WordIntervalTableReader_Tests
{
    [Fact]
    public void Reads_csv_in_milliseconds_or_seconds_with_quoted_fields()
    {
        using var dir = new TempDirectory();
        IReadOnlyList<WordAlignment> ms = WordIntervalTableReader.ReadCsv(dir.File("a.csv", "utterance,word,start_ms,end_ms,confidence\nu1,hey,300,620,0.9\nu1,\"edge\",620,1050,\n"));
        Assert.Equal(["hey", "edge"], ms[0].Words.Select(w => w.Word));
        Assert.Null(ms[0].Words[1].Confidence);
        IReadOnlyList<WordAlignment> s = WordIntervalTableReader.ReadCsv(dir.File("b.csv", "word,start,end\nhey,0.3,0.62\n"));
        Assert.Equal(620, s[0].Words[0].EndMs, 6);
        Assert.Equal("b", s[0].Utterance);
    }

    [Fact]
    public void Names_the_csv_line_with_a_bad_number()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<LabelFormatException>(() => WordIntervalTableReader.ReadCsv(dir.File("a.csv", "word,start_ms,end_ms\nhey,300,620\nedge,abc,900\n")));
        Assert.Equal(3, e.Line);
        Assert.Contains("'abc'", e.Message);
    }

    [Fact]
    public void Refuses_a_csv_header_without_times()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<LabelFormatException>(() => WordIntervalTableReader.ReadCsv(dir.File("a.csv", "word,begin\nhey,1\n")));
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void Reads_the_generator_s_json_sidecar_shape()
    {
        using var dir = new TempDirectory();
        string path = dir.File("s.json", """{ "path": "x.wav", "words": [ { "word": "hey", "startMs": 289.8125, "endMs": 700.875 }, { "word": "edge", "startMs": 757.875, "endMs": 1080.125 } ] }""");
        WordAlignment a = WordIntervalTableReader.ReadJson(path);
        Assert.Equal(757.875, a.Words[1].StartMs);
    }

    [Fact]
    public void Names_the_json_line_of_a_word_without_times()
    {
        using var dir = new TempDirectory();
        string path = dir.File("s.json", "[\n  { \"word\": \"hey\", \"startMs\": 1, \"endMs\": 2 },\n  { \"word\": \"edge\", \"startMs\": 3 }\n]\n");
        var e = Assert.Throws<LabelFormatException>(() => WordIntervalTableReader.ReadJson(path));
        Assert.Equal(3, e.Line);
        Assert.Contains("word 2", e.Message);
    }

    [Fact]
    public void Names_the_json_line_of_a_syntax_error()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<LabelFormatException>(() => WordIntervalTableReader.ReadJson(dir.File("s.json", "[\n{ \"word\": \"hey\",\n  \"startMs\": 1 \"endMs\": 2 }\n]")));
        Assert.Equal(3, e.Line);
    }
}

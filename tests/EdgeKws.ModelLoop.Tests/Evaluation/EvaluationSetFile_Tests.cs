using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.Shared.Audio;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>The edgekws-streams/1 file: tags and segments written and read back, old files still load, bad ones name the field.</summary>
public sealed class EvaluationSetFile_Tests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "edgekws-streamsfile-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public EvaluationSetFile_Tests()
    {
        Directory.CreateDirectory(_dir);
        // Two seconds of silence each: the loader checks the WAVs exist, not what they hold.
        foreach (string name in new[] { "neg.wav", "pos.wav" })
        {
            using var w = new WavWriter(Path.Combine(_dir, name), 16000, 1, WavSampleFormat.Pcm16);
            w.Write(new short[32000]);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteJson(string json)
    {
        string path = Path.Combine(_dir, "set-" + Guid.NewGuid().ToString("N")[..6] + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    // A valid file with one negative stream (segments) and one positive stream (tags); the tests break one field at a time.
    private const string Valid = """
        { "formatVersion": "edgekws-streams/1", "description": "hand-written",
          "streams": [
            { "name": "neg", "wavPath": "neg.wav", "kind": "Negative", "durationMs": 2000, "phrases": [],
              "segments": [ { "kind": "speech", "startMs": 0, "endMs": 800 }, { "kind": "noise:fan", "startMs": 1000, "endMs": 1900 } ] },
            { "name": "pos", "wavPath": "pos.wav", "kind": "Positive", "durationMs": 2000,
              "phrases": [ { "phrase": "hey edge", "startMs": 200, "endMs": 700, "tags": { "engine": "flite", "snr": "10 dB" } },
                           { "phrase": "stop", "startMs": 1200, "endMs": 1500 } ] } ] }
        """;

    [Fact]
    public void Reads_tags_and_segments_and_writes_them_back_unchanged()
    {
        var streams = EvaluationSetFile.Load(WriteJson(Valid), out string description);
        Assert.Equal("hand-written", description);
        Assert.Equal([new EvaluationSegment("speech", 0, 800), new EvaluationSegment("noise:fan", 1000, 1900)], streams[0].Segments!);
        var tags = streams[1].Phrases[0].Tags!;
        Assert.Equal(("flite", "10 dB"), (tags["engine"], tags["snr"]));
        Assert.Null(streams[1].Phrases[1].Tags);
        Assert.Null(streams[1].Segments);

        string again = Path.Combine(_dir, "again.json");
        EvaluationSetFile.Write(again, streams, description);
        var back = EvaluationSetFile.Load(again, out _);
        Assert.Equal(streams[0].Segments!, back[0].Segments!);
        Assert.Equal(tags, back[1].Phrases[0].Tags!);
        // A phrase without tags is written without the field, as before tags existed.
        string text = File.ReadAllText(again);
        Assert.Contains("\"wavPath\": \"pos.wav\"", text, StringComparison.Ordinal);
        Assert.Equal(1, CountOf(text, "\"tags\""));
    }

    private static int CountOf(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    [Fact]
    public void A_file_written_before_tags_and_segments_existed_still_loads()
    {
        // The exact shape the old writer produced (reflection-based, description may be null).
        string old = WriteJson("""
            {
              "formatVersion": "edgekws-streams/1",
              "description": null,
              "streams": [
                { "name": "neg", "wavPath": "neg.wav", "kind": "Negative", "durationMs": 2000, "phrases": [] },
                { "name": "pos", "wavPath": "pos.wav", "kind": "Positive", "durationMs": 2000,
                  "phrases": [ { "phrase": "hey edge", "startMs": 200, "endMs": 700 } ] }
              ]
            }
            """);
        var streams = EvaluationSetFile.Load(old, out string description);
        Assert.Equal(Path.GetFileName(old), description);
        Assert.Equal(2, streams.Count);
        Assert.Null(streams[0].Segments);
        Assert.Null(streams[1].Phrases[0].Tags);
        Assert.Equal(new StreamPhrase("hey edge", 200, 700), streams[1].Phrases[0]);
    }

    [Theory]
    [InlineData("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 800 }", "{ \"kind\": \"speech\", \"startMs\": 1300, \"endMs\": 1200 }",
        "streams[0].segments[1].endMs 1200 <= startMs 1300")]
    [InlineData("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 800 }", "{ \"kind\": \"applause\", \"startMs\": 1000, \"endMs\": 1200 }",
        "streams[0].segments[1].kind 'applause' is unknown")]
    [InlineData("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 800 }", "{ \"kind\": \"Noise:Fan\", \"startMs\": 1000, \"endMs\": 1200 }",
        "streams[0].segments[1].kind 'Noise:Fan' is unknown")]
    [InlineData("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 1000 }", "{ \"kind\": \"music\", \"startMs\": 500, \"endMs\": 1200 }",
        "streams[0].segments[1].startMs 500 < segments[0].endMs 1000: segments must be in time order and must not overlap")]
    [InlineData("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 800 }", "{ \"kind\": \"music\", \"startMs\": 1000, \"endMs\": 2500 }",
        "streams[0].segments[1].endMs 2500 > the stream's durationMs 2000")]
    [InlineData("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 800 }", "{ \"kind\": \"music\", \"startMs\": 1000 }",
        "streams[0].segments[1]: startMs and endMs are required")]
    [InlineData("{ \"startMs\": 0, \"endMs\": 800 }", "{ \"kind\": \"music\", \"startMs\": 1000, \"endMs\": 1200 }",
        "streams[0].segments[0].kind is required")]
    public void A_bad_segment_is_refused_naming_the_stream_segment_and_field(string first, string second, string expected)
    {
        string json = Valid.Replace("{ \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 800 }, { \"kind\": \"noise:fan\", \"startMs\": 1000, \"endMs\": 1900 }",
            first + ", " + second, StringComparison.Ordinal);
        Assert.NotEqual(Valid, json);
        string path = WriteJson(json);
        var ex = Assert.Throws<InvalidDataException>(() => EvaluationSetFile.Load(path, out _));
        Assert.Contains(path + ": " + expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"engine\": \"flite\", \"\": \"x\" }", "streams[1].phrases[0].tags: key must be non-empty")]
    [InlineData("{ \"engine\": \"flite\", \"snr\": 10 }", "streams[1].phrases[0].tags.snr: value must be a string, got Number 10")]
    [InlineData("{ \"engine\": null }", "streams[1].phrases[0].tags.engine: value must be a string, got Null")]
    [InlineData("{ \"engine\": \"\" }", "streams[1].phrases[0].tags.engine: value must be non-empty")]
    [InlineData("{ \"engine\": [\"flite\"] }", "streams[1].phrases[0].tags.engine: value must be a string, got Array")]
    public void A_bad_tag_is_refused_naming_the_stream_phrase_and_key(string tags, string expected)
    {
        string json = Valid.Replace("{ \"engine\": \"flite\", \"snr\": \"10 dB\" }", tags, StringComparison.Ordinal);
        Assert.NotEqual(Valid, json);
        string path = WriteJson(json);
        var ex = Assert.Throws<InvalidDataException>(() => EvaluationSetFile.Load(path, out _));
        Assert.Contains(path + ": " + expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Segments_on_a_positive_stream_are_refused()
    {
        string json = Valid.Replace("\"durationMs\": 2000,\n", "\"durationMs\": 2000, \"segments\": [ { \"kind\": \"speech\", \"startMs\": 0, \"endMs\": 100 } ],\n", StringComparison.Ordinal);
        Assert.NotEqual(Valid, json);
        string path = WriteJson(json);
        var ex = Assert.Throws<InvalidDataException>(() => EvaluationSetFile.Load(path, out _));
        Assert.Contains(path + ": streams[1].segments: only negative streams have segments", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_is_refused_with_its_line_and_json_path()
    {
        // Line 3 holds the first stream; its kind is neither Negative nor Positive.
        string path = WriteJson(Valid.Replace("\"kind\": \"Negative\"", "\"kind\": \"Neutral\"", StringComparison.Ordinal));
        var ex = Assert.Throws<InvalidDataException>(() => EvaluationSetFile.Load(path, out _));
        Assert.Contains(path + ": not an edgekws-streams/1 file (line 3, $.streams[0].kind)", ex.Message, StringComparison.Ordinal);

        string truncated = WriteJson(Valid[..^10]);
        ex = Assert.Throws<InvalidDataException>(() => EvaluationSetFile.Load(truncated, out _));
        Assert.Matches(@"not an edgekws-streams/1 file \(line \d+", ex.Message);

        string wrongType = WriteJson(Valid.Replace("\"startMs\": 200", "\"startMs\": \"soon\"", StringComparison.Ordinal));
        ex = Assert.Throws<InvalidDataException>(() => EvaluationSetFile.Load(wrongType, out _));
        Assert.Contains("$.streams[1].phrases[0].startMs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluator_refuses_segments_it_cannot_attribute_even_without_the_file()
    {
        var overlapping = new EvaluationStream("neg", Path.Combine(_dir, "neg.wav"), EvaluationStreamKind.Negative, 2000, [],
            [new EvaluationSegment("speech", 0, 1000), new EvaluationSegment("music", 900, 1500)]);
        var ex = Assert.Throws<ArgumentException>(() => StreamingEvaluator.Evaluate("unused.manifest.json", [overlapping]));
        Assert.Contains("stream 'neg': segments[1].startMs 900 < segments[0].endMs 1000", ex.Message, StringComparison.Ordinal);
    }
}

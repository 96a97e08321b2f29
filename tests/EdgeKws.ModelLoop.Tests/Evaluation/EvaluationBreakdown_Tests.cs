using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Tests.Fixtures;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>The breakdown of a real evaluation (the fixture's tiny model) over a hand-written streams file with tags and segments.</summary>
[Collection(StreamingModelCollection.Name)]
public class EvaluationBreakdown_Tests(StreamingModelFixture fixture, ITestOutputHelper output)
{
    private static string N(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// The fixture corpus's two streams as a hand-written edgekws-streams/1 file: the negative minute cut into speech, music,
    /// noise:fan and babble with gaps between; every "hey edge" and other phrase tagged by position (engine, room, snr),
    /// the last phrase untagged.
    /// </summary>
    internal static string WriteTaggedStreamsFile(StreamingModelFixture fixture, string path)
    {
        var negative = fixture.Streams.Single(s => s.Kind == EvaluationStreamKind.Negative);
        var positive = fixture.Streams.Single(s => s.Kind == EvaluationStreamKind.Positive);
        Assert.InRange(negative.DurationMs, 59_000, 61_000);
        string[] engines = ["festival", "espeak-ng", "espeak-ng"], rooms = ["dry", "hall"], snrs = ["0 dB", "10 dB", "clean"];
        var phrases = new StringBuilder();
        for (int i = 0; i < positive.Phrases.Count; i++)
        {
            var p = positive.Phrases[i];
            string tags = i == positive.Phrases.Count - 1 ? ""
                : $", \"tags\": {{ \"engine\": \"{engines[i % 3]}\", \"room\": \"{rooms[i % 2]}\", \"snr\": \"{snrs[i % 3]}\" }}";
            phrases.Append(i == 0 ? "" : ",\n      ").Append($"{{ \"phrase\": \"{p.Phrase}\", \"startMs\": {N(p.StartMs)}, \"endMs\": {N(p.EndMs)}{tags} }}");
        }
        File.WriteAllText(path, $$"""
            { "formatVersion": "edgekws-streams/1", "description": "fixture streams, hand-tagged",
              "streams": [
                { "name": "{{negative.Name}}", "wavPath": "{{negative.WavPath}}", "kind": "Negative", "durationMs": {{N(negative.DurationMs)}}, "phrases": [],
                  "segments": [ { "kind": "speech", "startMs": 0, "endMs": 15000 }, { "kind": "music", "startMs": 16000, "endMs": 30000 },
                                { "kind": "noise:fan", "startMs": 30000, "endMs": 45000 }, { "kind": "babble", "startMs": 47000, "endMs": 58000 } ] },
                { "name": "{{positive.Name}}", "wavPath": "{{positive.WavPath}}", "kind": "Positive", "durationMs": {{N(positive.DurationMs)}},
                  "phrases": [ {{phrases}} ] } ] }
            """);
        return path;
    }

    /// <summary>The sweep threshold with the most false accepts: the breakdown's sums must hold with many events, not zero.</summary>
    private float BusiestThreshold() => fixture.Baseline.Curve.MaxBy(p => (p.FalseAccepts, p.Keywords - p.MissedKeywords)).Threshold;

    [Fact]
    public void Breakdown_of_a_tagged_and_segmented_file_adds_up_to_the_headline_totals()
    {
        string file = WriteTaggedStreamsFile(fixture, Path.Combine(fixture.Root, "tagged-streams.json"));
        var streams = EvaluationSetFile.Load(file, out string description);
        var e = StreamingEvaluator.Evaluate(fixture.ManifestPath, streams, new StreamingEvaluationOptions { Threshold = BusiestThreshold(), EvaluationSet = description });
        var r = e.Report;
        var b = r.Breakdown!;
        output.WriteLine(EdgeKws.ModelTool.BreakdownPrinter.Format(b));
        Assert.True(r.FalseAcceptsInNegativeStreams > 0, "no false accept in the negative stream: the attribution sums would be vacuous");
        Assert.True(r.Keywords >= 3);

        // Overall = the headline numbers, with intervals around them.
        Assert.Equal((r.Keywords, r.MissedKeywords, r.FalseRejectRate), (b.OverallFrr.Keywords, b.OverallFrr.Missed, b.OverallFrr.Frr));
        Assert.Equal((r.FalseAccepts, r.NegativeHours, r.FaPerHour), (b.OverallFaPerHour.FalseAccepts, b.OverallFaPerHour.Hours, b.OverallFaPerHour.FaPerHour));
        Assert.InRange(r.FalseRejectRate, b.OverallFrr.FrrLow95, b.OverallFrr.FrrHigh95);
        Assert.InRange(r.FaPerHour, b.OverallFaPerHour.FaLow95, b.OverallFaPerHour.FaHigh95);

        // Every tag's groups hold every keyword once; the untagged last phrase is "(untagged)" where it is the keyword.
        Assert.Equal(["engine", "room", "snr"], b.FrrBy.Select(t => t.Tag));
        foreach (var t in b.FrrBy)
        {
            Assert.Equal(r.Keywords, t.Groups.Sum(g => g.Keywords));
            Assert.Equal(r.MissedKeywords, t.Groups.Sum(g => g.Missed));
        }
        Assert.Equal(["0 dB", "10 dB", "clean"], b.FrrBy[2].Groups.Select(g => g.Value).Where(v => v != AccuracyBreakdown.Untagged));

        // Every false accept goes to one kind, and every negative hour belongs to one kind.
        Assert.Equal(r.FalseAccepts, b.FaPerHourByKind.Sum(k => k.FalseAccepts));
        Assert.Equal(r.NegativeHours, b.FaPerHourByKind.Sum(k => k.Hours), 12);
        var kinds = b.FaPerHourByKind.ToDictionary(k => k.Kind);
        Assert.Equal(15_000 / 3_600_000.0, kinds["speech"].Hours, 12);
        Assert.Equal(15_000 / 3_600_000.0, kinds["noise:fan"].Hours, 12);
        Assert.Equal((r.NegativeStreamHours * 3_600_000 - 55_000) / 3_600_000.0, kinds["gap"].Hours, 9);
        Assert.Equal(r.FalseAcceptsInNegativeStreams, b.FaPerHourByKind.Where(k => k.Kind != "positive-background").Sum(k => k.FalseAccepts));
        Assert.Equal((r.FalseAcceptsInPositiveStreams, r.PositiveBackgroundHours), (kinds["positive-background"].FalseAccepts, kinds["positive-background"].Hours));

        // The same attribution, recomputed here from the detector's own events and the rule.
        var negativeTrace = e.Traces.Single(t => t.Stream.Kind == EvaluationStreamKind.Negative);
        var expected = negativeTrace.DetectorEventFrames
            .GroupBy(f => AccuracyBreakdown.KindAt(negativeTrace.Stream.Segments, (f + 1) * (double)r.FrameHopMs, r.ToleranceMs))
            .ToDictionary(g => g.Key, g => (long)g.Count());
        foreach (var (kind, count) in expected) Assert.Equal(count, kinds[kind].FalseAccepts);

        // The 0.5 FA/hour operating point is a point of the sweep, replayed with the same counts.
        var half = b.FrrAtHalfFaPerHour!;
        var point = Assert.Single(e.Curve, p => p.Threshold == half.Threshold);
        Assert.True(point.FaPerHour <= 0.5);
        Assert.DoesNotContain(e.Curve, p => p.FaPerHour <= 0.5 && p.FaPerHour > point.FaPerHour);
        Assert.Equal((point.FalseAccepts, point.MissedKeywords), (half.FalseAccepts, half.Overall.Missed));
        Assert.Equal(["engine", "room"], half.By.Select(t => t.Tag));
        Assert.All(half.By, t => Assert.Equal(point.MissedKeywords, t.Groups.Sum(g => g.Missed)));
    }

    [Fact]
    public void Tags_and_segments_leave_the_headline_numbers_byte_identical()
    {
        string file = WriteTaggedStreamsFile(fixture, Path.Combine(fixture.Root, "tagged-streams-2.json"));
        var tagged = EvaluationSetFile.Load(file, out _);
        var plain = tagged.Select(s => s with { Segments = null, Phrases = [.. s.Phrases.Select(p => p with { Tags = null })] }).ToList();
        var options = new StreamingEvaluationOptions { Threshold = BusiestThreshold(), EvaluationSet = "same" };
        var a = StreamingEvaluator.Evaluate(fixture.ManifestPath, tagged, options);
        var b = StreamingEvaluator.Evaluate(fixture.ManifestPath, plain, options);

        static string WithoutBreakdown(EvaluationReport r)
        {
            var json = JsonNode.Parse(JsonSerializer.Serialize(r, EvaluationJsonContext.Default.EvaluationReport))!.AsObject();
            Assert.True(json.Remove("breakdown"));
            return json.ToJsonString();
        }
        Assert.Equal(WithoutBreakdown(a.Report), WithoutBreakdown(b.Report));
        Assert.Equal(EvaluationWriter.ToCsv(a.Curve), EvaluationWriter.ToCsv(b.Curve));
        // Untagged and unsegmented: no tag groups, the negative stream is "unlabelled".
        Assert.Empty(b.Report.Breakdown!.FrrBy);
        Assert.Equal(["unlabelled", "positive-background"], b.Report.Breakdown.FaPerHourByKind.Select(k => k.Kind));
        Assert.Equal(b.Report.NegativeStreamHours, b.Report.Breakdown.FaPerHourByKind[0].Hours);
    }

    [Fact]
    public void Corpus_streams_carry_engine_voice_room_snr_microphone_and_noise_tags_and_negative_segments()
    {
        var positive = fixture.Streams.Single(s => s.Kind == EvaluationStreamKind.Positive);
        var negative = fixture.Streams.Single(s => s.Kind == EvaluationStreamKind.Negative);
        var manifest = EdgeKws.Corpus.Manifest.CorpusManifest.Load(Path.Combine(fixture.CorpusDirectory, "manifest.json"));
        var file = manifest.Files.Single(f => f.Path == positive.Name);
        for (int i = 0; i < positive.Phrases.Count; i++)
        {
            var tags = positive.Phrases[i].Tags!;
            var e = file.KeywordEvents[i];
            var speaker = manifest.Speakers.Single(s => s.Id == e.Speaker);
            Assert.Equal(["engine", "voice", "room", "snr", "microphone", "noise"], tags.Keys);
            Assert.Equal((speaker.Engine, speaker.VoiceKey), (tags["engine"], tags["voice"]));
            Assert.Equal(e.Room ?? "dry", tags["room"]);
            Assert.Equal(e.SnrDb is { } snr ? snr.ToString("0.##", CultureInfo.InvariantCulture) + " dB" : "clean", tags["snr"]);
            Assert.Equal(e.Microphone ?? "flat", tags["microphone"]);
            Assert.Equal(e.Noise ?? file.Noise ?? "pink", tags["noise"]);
        }
        Assert.Null(positive.Segments);
        Assert.NotEmpty(negative.Segments!);
        Assert.Null(SegmentKinds.Check(negative.Segments!, negative.DurationMs));
        Assert.All(negative.Segments!, s => Assert.True(SegmentKinds.IsValid(s.Kind), s.Kind));
        var corpusNegative = manifest.Files.Single(f => f.Path == negative.Name);
        Assert.Equal(corpusNegative.Segments!.Select(s => s.Kind == "noise" ? "noise:" + s.Noise : s.Kind), negative.Segments!.Select(s => s.Kind));
    }

    [Fact]
    public void Corpus_segment_kinds_map_noise_types_and_unknown_kinds_readably()
    {
        Assert.Equal("noise:white", EdgeKws.ModelTool.CorpusStreams.Segment(new("noise", 0, 10, Noise: "white")).Kind);
        Assert.Equal("babble", EdgeKws.ModelTool.CorpusStreams.Segment(new("babble", 0, 10, Noise: "babble")).Kind);
        Assert.Equal("noise", EdgeKws.ModelTool.CorpusStreams.Segment(new("noise", 0, 10)).Kind);
        Assert.Equal("other:vacuum-cleaner", EdgeKws.ModelTool.CorpusStreams.Segment(new("Vacuum Cleaner", 0, 10)).Kind);
    }
}

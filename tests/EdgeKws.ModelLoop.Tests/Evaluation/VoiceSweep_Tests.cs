using EdgeKws.Corpus;
using EdgeKws.Corpus.Sweep;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.Shared.Audio;
using EdgeKws.TestSupport;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>
/// <c>edgekws-corpus voice-sweep</c>: every talker's keyword where the streams file says, at the level asked, alone between
/// floor-level gaps, tagged by voice, rate and pitch; and the evaluator breaks the bundled model's FRR down by those tags.
/// </summary>
public sealed class VoiceSweep_Tests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "edgekws-voicesweep-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Sweep_places_every_talker_at_its_tags_and_the_evaluator_breaks_FRR_down_by_rate_and_pitch()
    {
        var o = new VoiceSweepOptions
        {
            OutputDirectory = _dir,
            Voices = "base",
            EspeakVoices = 1,
            RatePercents = [100, 120],
            PitchPercents = [84, 100],
            LevelDbFs = -9,
        };
        var talkers = VoiceSweep.Talkers(o);
        Assert.Contains(talkers, t => t.Engine == "flite");            // the engines CI installs (scripts/lib/setup.sh)
        Assert.Equal(talkers.Count, await VoiceSweep.RunAsync(o));

        var streams = EvaluationSetFile.Load(Path.Combine(_dir, VoiceSweep.StreamsName), out _);
        var stream = Assert.Single(streams);
        Assert.Equal(EvaluationStreamKind.Positive, stream.Kind);
        Assert.Equal(talkers.Count, stream.Phrases.Count);
        float[] audio = WavFile.ReadAllMono(Path.Combine(_dir, VoiceSweep.WavName), out _);
        for (int i = 0; i < talkers.Count; i++)
        {
            var p = stream.Phrases[i];
            Assert.Equal((talkers[i].Engine, talkers[i].VoiceKey, $"r{talkers[i].RatePercent}", $"p{talkers[i].PitchPercent}"),
                (p.Tags!["engine"], p.Tags["voice"], p.Tags["rate"], p.Tags["pitch"]));
            int start = (int)(p.StartMs * 16), end = (int)(p.EndMs * 16);
            double peakDb = 20 * Math.Log10(audio.AsSpan(start, end - start + 16).ToArray().Max(MathF.Abs));
            Assert.InRange(peakDb, -9.05, -8.95);
            // The second before the keyword is the gap: only the -70 dBFS floor (no other talker's tail).
            double gapRms = Math.Sqrt(audio.AsSpan(start - 16_000, 15_984).ToArray().Average(x => (double)x * x));
            Assert.InRange(20 * Math.Log10(gapRms), -72, -68);
        }

        string manifest = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "models", "default"), "*.int8.manifest.json").Single();
        var report = StreamingEvaluator.Evaluate(manifest, streams).Report;
        Assert.Equal(talkers.Count, report.Keywords);
        foreach ((string tag, string[] values) in new[] { ("rate", new[] { "r100", "r120" }), ("pitch", new[] { "p100", "p84" }) })
        {
            var by = report.Breakdown!.FrrBy.Single(t => t.Tag == tag);
            Assert.Equal(values, by.Groups.Select(g => g.Value).Order(StringComparer.Ordinal));
            Assert.All(by.Groups, g => Assert.Equal(talkers.Count / 2, g.Keywords));
            Assert.Equal(report.MissedKeywords, by.Groups.Sum(g => g.Missed));
        }

        string printed = EdgeKws.ModelTool.BreakdownPrinter.Format(report.Breakdown!);
        Assert.Contains("FRR by pitch", printed);
        Assert.Contains("FRR by rate", printed);
    }

    [Theory]
    [InlineData("--rates", "30,100", "--rates takes percents from 50 to 200; got '30'.")]
    [InlineData("--pitches", "", "--pitches needs at least one percent.")]
    [InlineData("--level", "3", "--level must be -60 to 0 dBFS (got 3).")]
    [InlineData("--voices", "every", "--voices must be base or all (got every).")]
    public void Bad_values_are_usage_errors_naming_the_option(string option, string value, string message)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(2, CorpusCommandLine.Run(["voice-sweep", "--out", _dir, option, value], stdout, stderr));
        Assert.Contains(message, stderr.ToString());
        Assert.False(Directory.Exists(_dir));
    }

    [Fact]
    public void Out_is_required()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, CorpusCommandLine.Run(["voice-sweep"], new StringWriter(), stderr));
        Assert.Contains("--out DIR is required.", stderr.ToString());
    }
}

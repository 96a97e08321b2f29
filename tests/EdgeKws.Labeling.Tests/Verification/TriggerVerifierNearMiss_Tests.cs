using System.Globalization;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Extraction;
using Xunit.Abstractions;

namespace EdgeKws.Labeling.Tests.Verification;

public sealed class TriggerVerifierNearMiss_Tests(ITestOutputHelper output)
{
    [Fact]
    public void Generates_near_misses_that_vary_the_last_word_at_its_edges()
    {
        IReadOnlyList<string> misses = NearMisses.Generate("hey edge", PronunciationLexicon.Load());
        Assert.Contains("hey hedge", misses);
        Assert.Contains("hey ledge", misses);
        Assert.Contains("hey ed", misses);
        Assert.DoesNotContain("hey edge", misses);
        Assert.DoesNotContain("hey edged", misses); // an extension steals true triggers (release burst fits a D)
        Assert.All(misses, m => Assert.StartsWith("hey ", m, StringComparison.Ordinal));
        Assert.InRange(misses.Count, 3, NearMisses.DefaultMax);
    }

    [Fact]
    public async Task Labels_true_triggers_true_accept_and_near_misses_false_accept_where_confidence_alone_did_not()
    {
        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync();
        var verifier = new TriggerVerifier(aligner, TriggerClips.Wake);
        var confidenceOnly = new TriggerVerifier(aligner, TriggerClips.Wake, generateNearMisses: false);
        using var dir = new TempDirectory();
        IReadOnlyList<TriggerClip> clips = await TriggerClips.GenerateAsync(dir.Path, TriggerClips.Speakers(SpeakerCount()), TriggerClips.StandardPhrases(), noiseClips: 2);
        var verdicts = new List<(TriggerClip Clip, TriggerVerdict Verdict)>();
        var baseline = new List<(TriggerClip Clip, TriggerVerdict Verdict)>();
        foreach (TriggerClip c in clips)
        {
            TriggerVerdict v = await verifier.VerifyAsync(c.Path);
            verdicts.Add((c, v));
            baseline.Add((c, await confidenceOnly.VerifyAsync(c.Path)));
            output.WriteLine($"{c.Class,-10} {c.Text,-16} {c.SpeakerId,-28} -> {v.Label,-12} {v.Confidence:0.00} {v.Reason}");
        }

        string table = ConfusionTable(verdicts);
        string before = ConfusionTable(baseline);
        output.WriteLine(table);
        Console.WriteLine("trigger verification (" + verifier.Tool + ", near misses: " + string.Join(", ", verifier.Competitors) + "):\n" + table);
        Console.WriteLine("confidence only (no near-miss grammar):\n" + before);

        var wake = verdicts.Where(x => x.Clip.Class == "wake").ToList();
        Assert.True(wake.Count(x => x.Verdict.Label == TriggerLabel.TrueAccept) * 3 >= wake.Count * 2, "at least 2 in 3 true triggers are auto true accepts\n" + table);
        Assert.DoesNotContain(wake, x => x.Verdict.Label == TriggerLabel.FalseAccept);
        // "hey hedge" is the hard one: espeak-ng's /h/ after "hey" is a breath some voices hardly mark. Everything else never passes.
        Assert.DoesNotContain(verdicts, x => x.Clip.Class != "wake" && x.Verdict.Label == TriggerLabel.TrueAccept && x.Clip.Text != "hey hedge");
        var hedge = verdicts.Where(x => x.Clip.Text == "hey hedge").ToList();
        Assert.True(hedge.Count(x => x.Verdict.Label == TriggerLabel.TrueAccept) * 2 <= hedge.Count, "at most half the 'hey hedge' clips slip through as true accepts\n" + table);
        int nearTrueBefore = baseline.Count(x => x.Clip.Class == "near-miss" && x.Verdict.Label == TriggerLabel.TrueAccept);
        int nearTrueAfter = verdicts.Count(x => x.Clip.Class == "near-miss" && x.Verdict.Label == TriggerLabel.TrueAccept);
        Assert.True(nearTrueAfter < nearTrueBefore, $"the near-miss grammar lets fewer near misses through ({nearTrueAfter}) than the confidence alone ({nearTrueBefore})\n" + before);
        Assert.All(verdicts, x => Assert.StartsWith(aligner.ToolVersion, x.Verdict.Source.Tool, StringComparison.Ordinal));
    }

    // EDGEKWS_* names are reserved for agent/gateway config; the measurement size is a test-only knob.
    private static int SpeakerCount() =>
        int.TryParse(Environment.GetEnvironmentVariable("TRIGGER_VERIFY_SPEAKERS"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is > 0 and <= 12 ? n : 6;

    internal static string ConfusionTable(IEnumerable<(TriggerClip Clip, TriggerVerdict Verdict)> verdicts)
    {
        var lines = new List<string> { "| class | phrase | clips | auto TA | auto FA | review |", "|---|---|---|---|---|---|" };
        foreach (var g in verdicts.GroupBy(x => (x.Clip.Class, x.Clip.Text)))
        {
            lines.Add($"| {g.Key.Class} | {(g.Key.Text.Length == 0 ? "(noise)" : g.Key.Text)} | {g.Count()} | {g.Count(x => x.Verdict.Label == TriggerLabel.TrueAccept)} | {g.Count(x => x.Verdict.Label == TriggerLabel.FalseAccept)} | {g.Count(x => x.Verdict.Label == TriggerLabel.NeedsReview)} |");
        }

        return string.Join('\n', lines);
    }
}

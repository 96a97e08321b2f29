using System.Text.Json.Nodes;
using EdgeKws.Detection;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Tests.Fixtures;
using EdgeKws.Shared.Metrics;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>A fine-tune's operating point: the candidate false-accepts on held-out streams no more than its parent (docs/model-loop.md).</summary>
[Collection(StreamingModelCollection.Name)]
public class OperatingPointMatch_Tests(StreamingModelFixture fixture)
{
    private static StreamingDetPoint P(float threshold, long falseAccepts, long missed = 0) => new(threshold, falseAccepts, 1.0, missed, 10);

    [Fact]
    public void Keeps_the_floor_when_the_candidate_false_accepts_no_more_there()
    {
        StreamingDetPoint[] curve = [P(0.5f, 9), P(0.9f, 1), P(0.95f, 0)];
        Assert.Equal(0.9f, OperatingPointMatch.Choose(curve, floor: 0.9f, allowedFalseAccepts: 1).Threshold);
        // Never below the floor, even where a lower threshold would also hold.
        Assert.Equal(0.9f, OperatingPointMatch.Choose([P(0.5f, 0), P(0.9f, 0)], floor: 0.9f, allowedFalseAccepts: 0).Threshold);
    }

    [Fact]
    public void Raises_to_the_lowest_point_from_which_every_higher_point_holds()
    {
        // False accepts are not monotone in the threshold (refractory period): 0.97 holds, 0.98 does not, 0.99 and up hold.
        StreamingDetPoint[] curve = [P(0.95f, 5, 1), P(0.96f, 2, 1), P(0.97f, 0, 2), P(0.98f, 1, 3), P(0.99f, 0, 4), P(0.995f, 0, 6)];
        StreamingDetPoint chosen = OperatingPointMatch.Choose(curve, floor: 0.95f, allowedFalseAccepts: 0);
        Assert.Equal(0.99f, chosen.Threshold);
        Assert.Equal(4, chosen.MissedKeywords);
        Assert.Equal(0.96f, OperatingPointMatch.Choose(curve, floor: 0.95f, allowedFalseAccepts: 2).Threshold);
    }

    [Fact]
    public void Takes_the_highest_point_when_none_holds_and_refuses_an_empty_range()
    {
        StreamingDetPoint[] curve = [P(0.95f, 5), P(0.99f, 3), P(OperatingPointMatch.MaxThreshold, 2), P(1f, 0)];
        Assert.Equal(OperatingPointMatch.MaxThreshold, OperatingPointMatch.Choose(curve, floor: 0.95f, allowedFalseAccepts: 1).Threshold);
        Assert.Throws<ArgumentException>(() => OperatingPointMatch.Choose([P(0.5f, 0)], floor: 0.9f, allowedFalseAccepts: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OperatingPointMatch.Choose(curve, 0.5f, -1));
    }

    [Fact]
    public void The_grid_covers_floor_to_cap_in_steps_of_1e4()
    {
        float[] grid = OperatingPointMatch.Grid(0.9525f);
        Assert.Equal(0.9525f, grid[0]);
        Assert.Equal(OperatingPointMatch.MaxThreshold, grid[^1]);
        Assert.Equal(475, grid.Length);   // 0.9525, 0.9526, ..., 0.9999
        Assert.All(grid.Zip(grid.Skip(1)), pair => Assert.InRange(pair.Second - pair.First, 0.5e-4f, 1.5e-4f));
    }

    [Fact]
    public void The_same_weights_keep_the_parent_threshold_with_the_detectors_counts()
    {
        // Parent and candidate: the tiny model's weights, at a threshold where it false-accepts on the fixture's negative stream.
        StreamingDetPoint low = fixture.Baseline.Curve.Where(p => p.FalseAccepts > 0).MaxBy(p => p.Threshold);
        string parent = fixture.WithThreshold(low.Threshold, "1.0.0-parent");
        string candidate = fixture.WithThreshold(0.2f, "1.0.1-same");   // the candidate's own threshold plays no part
        OperatingPoint point = OperatingPointMatch.Choose(parent, candidate, fixture.Streams, "fixture streams");

        Assert.Equal(low.Threshold, point.Threshold);
        Assert.True(point.ParentFalseAccepts > 0);
        Assert.Equal(point.ParentFalseAccepts, point.CandidateFalseAcceptsAtParentThreshold);
        Assert.Equal(point.ParentFalseAccepts, point.CandidateFalseAccepts);
        Assert.Equal(point.ParentMissed, point.CandidateMissed);
        Assert.Equal(fixture.Baseline.Report.Keywords, point.Keywords);
        Assert.Equal("fixture streams", point.EvaluationSet);
    }

    [Fact]
    public void Setting_a_threshold_changes_only_the_manifest()
    {
        string candidate = fixture.WithThreshold(0.2f, "1.0.1-set");
        string modelFile = JsonNode.Parse(File.ReadAllText(candidate))!["fileName"]!.GetValue<string>();
        byte[] before = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(candidate)!, modelFile));
        OperatingPointMatch.SetThreshold(candidate, 0.8123f);
        Assert.True(ModelManifest.TryParse(File.ReadAllBytes(candidate), out ModelManifest? m, out string why), why);
        Assert.Equal(0.8123f, m!.Threshold);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(candidate)!, modelFile)));
    }
}

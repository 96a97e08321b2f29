using EdgeKws.Labeling.Review;

namespace EdgeKws.Labeling.Tests.Review;

public sealed class SqliteReviewQueue_Tests
{
    private static ReviewItem Item(string key, string label = "hey edge", double conf = 0.45) =>
        new(0, key, ReviewSubject.KeywordClip, "train/spk/sentence-000.wav", "/clips/" + key + ".wav", label, 300, 1000, "review: confidence", new LabelSource(LabelKinds.Aligner, "pocketsphinx 0.8+5prealpha+1-15", conf));

    [Fact]
    public void Round_trips_confirm_and_correct_with_sources_kept_across_reopening()
    {
        using var dir = new TempDirectory();
        string db = Path.Combine(dir.Path, "review.db");
        long a, b;
        using (var q = new SqliteReviewQueue(db))
        {
            a = q.Enqueue(Item("a")).Id;
            b = q.Enqueue(Item("b")).Id;
            Assert.Equal(a, q.Enqueue(Item("a")).Id);
            Assert.Equal([a, b], q.Pending(10).Select(i => i.Id));
            ReviewItem confirmed = q.Confirm(a, "alice");
            Assert.Equal((ReviewStatus.Confirmed, "hey edge"), (confirmed.Status, confirmed.FinalLabel));
            ReviewItem corrected = q.Correct(b, "alice", "hey hedge", 320, 980);
            Assert.Equal((ReviewStatus.Corrected, "hey hedge", 320.0, 980.0), (corrected.Status, corrected.FinalLabel, corrected.FinalStartMs!.Value, corrected.FinalEndMs!.Value));
        }

        using (var q = new SqliteReviewQueue(db))
        {
            Assert.Empty(q.Pending(10));
            Assert.True(q.TryGet(b, out ReviewItem item));
            Assert.Equal("hey hedge", item.FinalLabel);
            Assert.Equal("hey edge", item.ProposedLabel);
            Assert.Equal(("pocketsphinx 0.8+5prealpha+1-15", 0.45), (item.ProposedBy.Tool, item.ProposedBy.Confidence!.Value));
            Assert.Equal((LabelKinds.Review, "alice"), (item.ReviewedBy!.Kind, item.ReviewedBy.Reviewer));
            Assert.Equal(1, q.CountByStatus()[ReviewStatus.Confirmed]);
            Assert.Throws<KeyNotFoundException>(() => q.Confirm(999, "alice"));
        }
    }

    [Fact]
    public void Computes_agreement_on_a_re_reviewed_sample()
    {
        using var dir = new TempDirectory();
        using var q = new SqliteReviewQueue(Path.Combine(dir.Path, "review.db"));
        for (int i = 0; i < 10; i++)
        {
            long id = q.Enqueue(Item("k" + i)).Id;
            if (i % 2 == 0)
            {
                q.Confirm(id, "alice");
            }
            else
            {
                q.Correct(id, "alice", "edge");
            }
        }

        IReadOnlyList<ReviewItem> sample = q.SampleForReReview(5, seed: 3, excludingReviewer: "bob");
        Assert.Equal(5, sample.Count);
        Assert.Equal(sample.Select(s => s.Id), q.SampleForReReview(5, seed: 3, excludingReviewer: "bob").Select(s => s.Id));
        // Bob agrees on all but one.
        for (int i = 0; i < sample.Count; i++)
        {
            q.ReReview(sample[i].Id, "bob", i == 0 ? "something else" : sample[i].FinalLabel!);
        }

        AgreementFigures f = q.Agreement();
        Assert.Equal((5, 4), (f.Compared, f.Agreed));
        Assert.Equal(0.8, f.Rate, 9);
        Assert.Throws<InvalidOperationException>(() => q.ReReview(sample[0].Id, "alice", "x"));
    }
}

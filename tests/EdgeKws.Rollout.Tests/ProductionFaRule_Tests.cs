using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Rollout;

namespace EdgeKws.Rollout.Tests;

public sealed class ProductionFaRule_Tests
{
    private static readonly RolloutOptions Defaults = new();
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Does_not_judge_before_the_minimum_listening_hours_however_many_false_accepts()
    {
        var w = ProductionFaRule.Evaluate(new FaActivity(1.99, 50), new FaActivity(100, 10), null, Defaults, Now);
        Assert.False(w.Trip);
        Assert.StartsWith("waiting: 1.99 of 2 listening hours", w.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void Does_not_trip_on_fewer_than_the_minimum_false_accepts()
    {
        var w = ProductionFaRule.Evaluate(new FaActivity(2.0, 2), new FaActivity(100, 0), null, Defaults, Now);
        Assert.False(w.Trip);
        Assert.Equal(1.0, w.NewFaPerHour);
    }

    [Fact]
    public void Trips_only_above_ratio_times_old_plus_slack()
    {
        // Old: 10 FA in 100 h = 0.1 FA/hour -> limit 1.5 x 0.1 + 0.5 = 0.65.
        var old = new FaActivity(100, 10);
        var at = ProductionFaRule.Evaluate(new FaActivity(20, 13), old, null, Defaults, Now); // 0.65 exactly: not above
        Assert.Equal(0.65, at.LimitFaPerHour, 9);
        Assert.False(at.Trip);
        var above = ProductionFaRule.Evaluate(new FaActivity(20, 14), old, null, Defaults, Now); // 0.7
        Assert.True(above.Trip);
        Assert.StartsWith("production FA/hour 0.7 (14 in 20 h) > 1.5 x 0.1 + 0.5 = 0.65", above.Verdict, StringComparison.Ordinal);
        Assert.Equal("fleet: 10 FA in 100 h", above.OldSource);
    }

    [Fact]
    public void Trips_on_decided_false_accepts_only_and_holds_while_pending_reviews_could_trip_it()
    {
        // Old: 10 FA in 100 h = 0.1 FA/hour -> limit 0.65. New: 1 decided in 2.5 h = 0.4.
        var old = new FaActivity(100, 10);
        var hold = ProductionFaRule.Evaluate(new FaActivity(2.5, 1, PendingReview: 2), old, null, Defaults, Now); // upper (1 + 2) / 2.5 = 1.2
        Assert.False(hold.Trip);
        Assert.True(hold.Hold);
        Assert.Equal(0.4, hold.NewFaPerHour!.Value, 9);
        Assert.Equal(1.2, hold.NewFaPerHourUpper!.Value, 9);
        Assert.Equal(2, hold.NewPendingReview);
        Assert.StartsWith("holding: production FA/hour 0.4 – 1.2 FA/h (2 pending review) in 2.5 h; the upper end > limit 0.65", hold.Verdict, StringComparison.Ordinal);

        // One pending: even as a false accept there would be 2 < 3, the rule could not trip: no hold.
        var few = ProductionFaRule.Evaluate(new FaActivity(2.5, 1, PendingReview: 1), old, null, Defaults, Now);
        Assert.False(few.Hold);
        Assert.Equal(0.8, few.NewFaPerHourUpper!.Value, 9);
        // Upper end within the limit: 3 + 1 in 20 h = 0.2 <= 0.65.
        Assert.False(ProductionFaRule.Evaluate(new FaActivity(20, 3, PendingReview: 1), old, null, Defaults, Now).Hold);
        // Before the minimum listening hours nothing judges, pending or not.
        Assert.False(ProductionFaRule.Evaluate(new FaActivity(1.99, 0, PendingReview: 50), old, null, Defaults, Now).Hold);
        // Decided over the limit: a trip (rollback), not a hold.
        var trip = ProductionFaRule.Evaluate(new FaActivity(2.5, 3, PendingReview: 5), old, null, Defaults, Now);
        Assert.True(trip.Trip);
        Assert.False(trip.Hold);
        Assert.StartsWith("production FA/hour 1.2 (3 in 2.5 h) > 1.5 x 0.1 + 0.5 = 0.65", trip.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void Uses_the_old_models_offline_figure_when_the_fleet_has_too_little_listening_and_zero_without_either()
    {
        var offline = ProductionFaRule.Evaluate(new FaActivity(4, 4), new FaActivity(1, 0), oldOfflineFaPerHour: 2.0, Defaults, Now);
        Assert.Equal(2.0, offline.OldFaPerHour);
        Assert.Equal(3.5, offline.LimitFaPerHour);
        Assert.False(offline.Trip); // 1.0 <= 3.5
        Assert.StartsWith("offline evaluation", offline.OldSource, StringComparison.Ordinal);

        var none = ProductionFaRule.Evaluate(new FaActivity(4, 4), new FaActivity(1, 0), null, Defaults, Now);
        Assert.Equal(0, none.OldFaPerHour);
        Assert.True(none.Trip); // 1.0 > 0.5
    }

    [Fact]
    public void Honours_configured_ratio_slack_and_minimums()
    {
        var strict = new RolloutOptions { RatioLimit = 1.0, SlackFaPerHour = 0, MinListeningHours = 0.001, MinFalseAccepts = 1 };
        Assert.True(ProductionFaRule.Evaluate(new FaActivity(0.01, 1), new FaActivity(100, 0), null, strict, Now).Trip);
        Assert.Throws<ArgumentException>(() => new RolloutOptions { RatioLimit = 0.5 }.Validate());
        Assert.Throws<ArgumentException>(() => new RolloutOptions { MinFalseAccepts = 0 }.Validate());
    }
}

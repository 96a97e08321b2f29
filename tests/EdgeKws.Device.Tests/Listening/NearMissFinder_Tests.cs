using EdgeKws.Device.Listening;

namespace EdgeKws.Device.Tests.Listening;

/// <summary>The near-miss peak finder on synthetic smoothed-score traces (threshold 0.8, band from 0.4).</summary>
public sealed class NearMissFinder_Tests
{
    private const float Threshold = 0.8f;

    /// <summary>Pushes <paramref name="scores"/> one inference per 50 ms from <paramref name="startMs"/>; returns the near misses reported.</summary>
    private static List<NearMissPeak> Feed(NearMissFinder finder, float[] scores, long startMs = 0, long firstFrame = 0)
    {
        var found = new List<NearMissPeak>();
        for (int i = 0; i < scores.Length; i++)
        {
            if (finder.TryPush(scores[i], firstFrame + (i * 5), startMs + (i * 50), out NearMissPeak p))
            {
                found.Add(p);
            }
        }
        return found;
    }

    [Fact]
    public void Reports_one_near_miss_per_peak_at_its_maximum_when_the_score_falls_below_the_band()
    {
        var finder = new NearMissFinder(Threshold, 0.5, maxPerHour: 100);
        Assert.Equal(0.4f, finder.BandFloor, 6);
        //                  noise      run 1 (two bumps, one run)        gap   run 2          noise
        float[] trace = [0.1f, 0.2f, 0.45f, 0.7f, 0.6f, 0.75f, 0.5f, 0.3f, 0.5f, 0.62f, 0.41f, 0.1f, 0.05f];
        List<NearMissPeak> found = Feed(finder, trace);
        Assert.Equal(2, found.Count);
        Assert.Equal(new NearMissPeak(0.75f, 25, 250), found[0]);   // the run's maximum, not its first bump
        Assert.Equal(new NearMissPeak(0.62f, 45, 450), found[1]);
        Assert.Equal((2L, 0L), (finder.Found, finder.RateLimited));
    }

    [Fact]
    public void Band_edges_floor_inclusive_threshold_exclusive()
    {
        var finder = new NearMissFinder(Threshold, 0.5, maxPerHour: 100);
        // Exactly the floor is in the band: a near miss at 0.4.
        Assert.Equal([new NearMissPeak(0.4f, 5, 50)], Feed(finder, [0.1f, 0.4f, 0.1f]));
        // Just under the floor: nothing.
        Assert.Empty(Feed(finder, [0.1f, 0.3999f, 0.1f]));
        // Just under the threshold: a near miss.
        Assert.Equal([new NearMissPeak(0.7999f, 5, 50)], Feed(finder, [0.1f, 0.7999f, 0.1f]));
        // Exactly the threshold is a detection's score: not a near miss.
        Assert.Empty(Feed(finder, [0.1f, 0.8f, 0.1f]));
        // NaN ends a run like a score below the floor, and never starts one.
        Assert.Equal([new NearMissPeak(0.5f, 5, 50)], Feed(finder, [0.1f, 0.5f, float.NaN, float.NaN]));
        Assert.Equal(3, finder.Found);
    }

    [Fact]
    public void A_run_that_reaches_the_threshold_is_not_a_near_miss_before_or_after_the_crossing()
    {
        var finder = new NearMissFinder(Threshold, 0.5, maxPerHour: 100);
        // Rises through the band, detects, stays in the band through the refractory period, falls: one detection's run.
        Assert.Empty(Feed(finder, [0.1f, 0.5f, 0.7f, 0.95f, 0.9f, 0.7f, 0.6f, 0.45f, 0.2f]));
        // Then a separate in-band bump after a dip below the floor is a near miss of its own.
        Assert.Equal([new NearMissPeak(0.55f, 5, 50)], Feed(finder, [0.2f, 0.55f, 0.3f]));
        Assert.Equal(1, finder.Found);
    }

    [Fact]
    public void Rate_limit_drops_and_counts_near_misses_past_max_per_hour_and_refills_over_stream_time()
    {
        var finder = new NearMissFinder(Threshold, 0.5, maxPerHour: 3);
        float[] bump = [0.1f, 0.6f, 0.1f];
        int reported = 0;
        for (int i = 0; i < 10; i++)
        {
            reported += Feed(finder, bump, startMs: i * 1000).Count; // ten near misses within ten seconds
        }
        Assert.Equal(3, reported); // the bucket's three tokens
        Assert.Equal((10L, 7L), (finder.Found, finder.RateLimited));

        // 20 minutes of stream time refill one token (3 per hour), not more.
        long t = 10_000 + (20 * 60 * 1000);
        Assert.Single(Feed(finder, bump, startMs: t));
        Assert.Empty(Feed(finder, bump, startMs: t + 1000));
        Assert.Equal((12L, 8L), (finder.Found, finder.RateLimited));

        // After a full hour the bucket is full again, and no fuller than MaxPerHour.
        t += 10 * 3_600_000L;
        int burst = 0;
        for (int i = 0; i < 5; i++)
        {
            burst += Feed(finder, bump, startMs: t + (i * 1000)).Count;
        }
        Assert.Equal(3, burst);
        Assert.Equal((17L, 10L), (finder.Found, finder.RateLimited));
    }

    [Fact]
    public void Reset_forgets_the_open_run_keeps_the_counts_and_takes_the_new_threshold()
    {
        var finder = new NearMissFinder(Threshold, 0.5, maxPerHour: 100);
        Assert.Empty(Feed(finder, [0.1f, 0.6f]));
        finder.Reset(0.6f); // a swap to a model with threshold 0.6: the old run is dropped
        Assert.Equal((0.6f, 0.3f), (finder.Threshold, finder.BandFloor));
        Assert.Empty(Feed(finder, [0.1f]));
        Assert.Equal(0, finder.Found);
        // 0.6 is now the threshold: a run reaching it is a detection's; 0.5 is a near miss.
        Assert.Empty(Feed(finder, [0.1f, 0.6f, 0.1f]));
        Assert.Equal([new NearMissPeak(0.5f, 5, 50)], Feed(finder, [0.1f, 0.5f, 0.1f]));
    }

    [Fact]
    public void Max_per_hour_zero_turns_it_off_and_bad_settings_are_refused()
    {
        var off = new NearMissFinder(Threshold, 0.5, maxPerHour: 0);
        Assert.False(off.Enabled);
        Assert.Empty(Feed(off, [0.1f, 0.6f, 0.1f]));
        Assert.Equal(0, off.Found);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NearMissFinder(Threshold, 1.0, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NearMissFinder(Threshold, 0.0, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NearMissFinder(Threshold, 0.5, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NearMissFinder(1.5f, 0.5, 6));
    }
}

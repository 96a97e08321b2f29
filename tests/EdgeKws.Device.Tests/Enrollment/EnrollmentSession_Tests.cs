using System.Globalization;
using System.Text.RegularExpressions;
using EdgeKws.Device.Enrollment;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Tests.Enrollment;

[Collection(GeneratedTakesCollection.Name)]
public sealed partial class EnrollmentSession_Tests(GeneratedTakes takes)
{
    private static readonly string[] Goods = ["good_1.wav", "good_2.wav", "good_3.wav", "good_4.wav", "good_5.wav"];

    [Theory]
    [InlineData("good_1.wav")]
    [InlineData("good_6.wav")]
    [InlineData("snr30.wav")]
    public void Accepts_a_clean_take_at_30_dB_snr(string file)
    {
        var session = new EnrollmentSession(new EnrollmentPolicy { TakeCount = 1 });
        TakeResult r = session.SubmitTake(takes.Samples(file));
        Assert.True(r.Accepted, Describe(r));
        Assert.InRange(r.Figures.SnrDb!.Value, 25, 40);
        Assert.InRange(r.Figures.SpeechMs!.Value, 500, 800);
        Assert.True(session.IsComplete);
    }

    [Theory]
    [InlineData("snr14.wav")]
    [InlineData("snr10.wav")]
    public void Rejects_a_noisy_take_naming_its_snr_and_the_20_dB_needed(string file)
    {
        TakeResult r = Single(file);
        TakeFailure f = Assert.Single(r.Failures, x => x.Check == EnrollmentCheck.LowSnr);
        Match m = SnrReason().Match(f.Reason);
        Assert.True(m.Success, f.Reason);
        double snr = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(snr < 20, f.Reason);
        Assert.Equal(Math.Round(r.Figures.SnrDb!.Value, 1), snr);
        Assert.Contains("quieter", f.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_clipped_take_with_the_clipping_figures_and_a_move_back_hint()
    {
        TakeResult r = Single("clipped.wav");
        TakeFailure f = Assert.Single(r.Failures, x => x.Check == EnrollmentCheck.Clipped);
        Assert.StartsWith("clipped: ", f.Reason, StringComparison.Ordinal);
        Assert.Contains("move back", f.Hint, StringComparison.Ordinal);
        Assert.True(r.Figures.ClippedRuns > 0);
    }

    [Fact]
    public void Rejects_a_single_word_as_too_short_with_its_duration()
    {
        TakeResult r = Single("short.wav");
        TakeFailure f = Assert.Single(r.Failures);
        Assert.Equal(EnrollmentCheck.TooShort, f.Check);
        Assert.Matches(@"^too short: \d+ ms, say the whole phrase \(500-800 ms\)$", f.Reason);
        Assert.True(r.Figures.SpeechMs < 500);
    }

    [Fact]
    public void Rejects_a_slow_take_as_too_long()
    {
        TakeResult r = Single("long.wav");
        TakeFailure f = Assert.Single(r.Failures);
        Assert.Equal(EnrollmentCheck.TooLong, f.Check);
        Assert.True(r.Figures.SpeechMs > 800, Describe(r));
    }

    [Fact]
    public void Rejects_a_take_at_minus_45_dBFS_as_too_quiet_with_a_move_closer_hint()
    {
        TakeResult r = Single("quiet.wav");
        TakeFailure f = Assert.Single(r.Failures);
        Assert.Equal(EnrollmentCheck.TooQuiet, f.Check);
        Assert.Equal("too quiet: speech at -45.0 dBFS, -40 dBFS needed", f.Reason);
        Assert.Contains("move closer", f.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_noise_without_speech_as_no_speech()
    {
        TakeResult r = Single("silence.wav");
        TakeFailure f = Assert.Single(r.Failures);
        Assert.Equal(EnrollmentCheck.NoSpeech, f.Check);
        Assert.Null(r.Figures.SpeechMs);
    }

    [Fact]
    public void Rejects_digital_silence_as_no_speech_and_says_it_is_near_silent()
    {
        TakeResult r = new EnrollmentSession(new EnrollmentPolicy()).SubmitTake(new short[16_000]);
        TakeFailure f = Assert.Single(r.Failures);
        Assert.Equal(EnrollmentCheck.NoSpeech, f.Check);
        Assert.Contains("near silent", f.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_different_phrase_as_inconsistent_after_the_good_takes()
    {
        var session = new EnrollmentSession(new EnrollmentPolicy { TakeCount = 5 });
        foreach (string g in Goods[..4])
        {
            Assert.True(session.SubmitTake(takes.Samples(g)).Accepted);
        }

        // On its own the other phrase passes every per-take check ...
        Assert.True(Single("other_phrase.wav").Accepted);

        // ... against the accepted takes it does not.
        TakeResult r = session.SubmitTake(takes.Samples("other_phrase.wav"));
        TakeFailure f = Assert.Single(r.Failures);
        Assert.Equal(EnrollmentCheck.Inconsistent, f.Check);
        Assert.StartsWith("doesn't match your other takes: DTW distance ", f.Reason, StringComparison.Ordinal);
        Assert.True(r.Figures.DtwDistance > EnrollmentPolicy.DefaultMaxDtwDistance);

        // A same-phrase take with other rate/pitch/noise is still accepted as take 5.
        TakeResult ok = session.SubmitTake(takes.Samples("cal_same_2.wav"));
        Assert.True(ok.Accepted, Describe(ok));
        Assert.True(ok.Figures.DtwDistance <= EnrollmentPolicy.DefaultMaxDtwDistance);
    }

    [Fact]
    public void Threshold_separates_same_phrase_from_other_phrases_on_the_calibration_set()
    {
        var same = new List<double>();
        var other = new List<double>();
        foreach (string file in System.IO.Directory.GetFiles(takes.Directory, "cal_*.wav").Order(StringComparer.Ordinal))
        {
            var session = new EnrollmentSession(new EnrollmentPolicy { TakeCount = 6, MaxDtwDistance = 1000 });
            foreach (string g in Goods)
            {
                Assert.True(session.SubmitTake(takes.Samples(g)).Accepted);
            }

            TakeResult r = session.SubmitTake(takes.Samples(Path.GetFileName(file)));
            if (r.Figures.DtwDistance is double d)
            {
                (Path.GetFileName(file).StartsWith("cal_same", StringComparison.Ordinal) ? same : other).Add(d);
            }
        }

        Assert.True(same.Count >= 5 && other.Count >= 4, $"{same.Count} same, {other.Count} other measured");
        Assert.True(same.Max() < EnrollmentPolicy.DefaultMaxDtwDistance, $"same phrase up to {same.Max():F1}");
        Assert.True(other.Min() > EnrollmentPolicy.DefaultMaxDtwDistance, $"other phrases from {other.Min():F1}");
    }

    [Fact]
    public void Asks_again_after_a_failed_take_and_fails_after_the_last_attempt()
    {
        var session = new EnrollmentSession(new EnrollmentPolicy { TakeCount = 2, MaxAttemptsPerTake = 3 });
        Assert.True(session.SubmitTake(takes.Samples("good_1.wav")).Accepted);
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            Assert.Equal(2, session.CurrentTakeNumber);
            Assert.Equal(attempt, session.Attempt);
            TakeResult r = session.SubmitTake(takes.Samples("snr10.wav"));
            Assert.False(r.Accepted);
            Assert.Equal(attempt == 3, r.EnrollmentFailed);
        }

        Assert.True(session.IsFailed);
        Assert.False(session.IsComplete);
        Assert.Throws<InvalidOperationException>(() => session.SubmitTake(takes.Samples("good_2.wav")));
        Assert.Equal(4, session.AttemptCount);
        Assert.Equal(3, session.RejectionCounts.LowSnr);
    }

    [Fact]
    public void Every_failure_carries_a_reason_and_a_hint()
    {
        foreach (string file in new[] { "snr10.wav", "clipped.wav", "short.wav", "long.wav", "quiet.wav", "silence.wav" })
        {
            TakeResult r = Single(file);
            Assert.False(r.Accepted, file);
            Assert.All(r.Failures, f =>
            {
                Assert.False(string.IsNullOrWhiteSpace(f.Reason), file);
                Assert.False(string.IsNullOrWhiteSpace(f.Hint), file);
            });
        }
    }

    [Fact]
    public void A_phrase_config_moves_the_duration_bounds()
    {
        var policy = new PhraseConfig { Phrase = "edge", MinSpeechMs = 200, MaxSpeechMs = 400 }.ApplyTo(new EnrollmentPolicy { TakeCount = 1 });
        Assert.True(new EnrollmentSession(policy).SubmitTake(takes.Samples("short.wav")).Accepted);
        TakeResult r = new EnrollmentSession(policy).SubmitTake(takes.Samples("good_1.wav"));
        Assert.Equal(EnrollmentCheck.TooLong, Assert.Single(r.Failures).Check);
        Assert.Contains("at most 400 ms", r.Failures[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_recording_longer_than_the_take_buffer_without_reading_it()
    {
        var session = new EnrollmentSession(new EnrollmentPolicy());
        TakeResult r = session.SubmitTake(new short[session.TakeCapacitySamples + 1]);
        Assert.Equal(EnrollmentCheck.TooLong, Assert.Single(r.Failures).Check);
        Assert.StartsWith("recording too long: 4.0 s, at most 4.0 s", r.Failures[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void State_bytes_are_the_exact_sum_of_the_buffers_and_do_not_change_with_takes()
    {
        var policy = new EnrollmentPolicy();
        var session = new EnrollmentSession(policy);
        int frames = MfccConfig.Default.FrameCount(policy.MaxSpeechMs * 16);
        Assert.Equal(78, frames);
        int expected =
            (64_000 * 2)                      // 4 s take buffer, int16
            + (320 * 4)                       // float conversion block
            + (6 * frames * 13 * 4)           // MFCCs: 5 accepted takes + 1 candidate
            + (6 * 4)                         // frame counts
            + (6 * 13 * 8)                    // per-take cepstral means
            + (2 * (frames + 1) * 8)          // DTW rows
            + (5 * 5 * 8)                     // pairwise distances for the medoid
            + (5 * System.Runtime.CompilerServices.Unsafe.SizeOf<TakeFigures>())
            + (8 * 4)                         // rejection counts
            + TakeQualityAnalyzer.StateBytes  // 3,320
            + new MfccExtractor(MfccConfig.Default).StateBytes; // 12,252
        Assert.Equal(expected, session.StateBytes);
        Assert.Equal(171_972, session.StateBytes);

        foreach (string g in Goods)
        {
            session.SubmitTake(takes.Samples(g));
        }

        session.BuildEnrollment(DateTimeOffset.UtcNow);
        Assert.Equal(expected, session.StateBytes);
    }

    [Fact]
    public void Builds_an_enrollment_with_every_takes_features_and_the_dtw_medoid_as_template()
    {
        var session = new EnrollmentSession(new EnrollmentPolicy());
        foreach (string g in Goods)
        {
            Assert.True(session.SubmitTake(takes.Samples(g)).Accepted);
        }

        EnrollmentData data = session.BuildEnrollment(new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(5, data.Takes.Count);
        Assert.Equal(MfccConfig.Default.FeatureConfigHash, data.FeatureConfigHash);
        Assert.All(data.Takes, t => Assert.Equal(t.FrameCount * 13, t.Features.Length));
        Assert.Equal(0, data.Takes[data.TemplateTakeIndex].DtwToTemplate);

        // The medoid: no other take has a smaller summed distance to the rest.
        double Sum(int i)
        {
            double s = 0;
            for (int j = 0; j < 5; j++)
            {
                s += Dtw(data, i, j);
            }

            return s;
        }

        for (int i = 0; i < 5; i++)
        {
            Assert.True(Sum(data.TemplateTakeIndex) <= Sum(i) + 1e-9);
        }
    }

    [Fact]
    public void The_qc_report_validates_and_counts_rejections_per_check()
    {
        var session = new EnrollmentSession(new EnrollmentPolicy { TakeCount = 2 });
        session.SubmitTake(takes.Samples("good_1.wav"));
        session.SubmitTake(takes.Samples("snr14.wav"));
        session.SubmitTake(takes.Samples("clipped.wav"));
        session.SubmitTake(takes.Samples("good_2.wav"));
        EnrollmentData data = session.BuildEnrollment(DateTimeOffset.UtcNow);
        EnrollmentQcReport qc = session.BuildQcReport("dev-1", DateTimeOffset.UtcNow, EnrollmentOutcome.Enrolled, data);
        Assert.True(qc.TryValidate(out string reason), reason);
        Assert.Equal(4, qc.Attempts);
        Assert.Equal(2, qc.TakesAccepted);
        Assert.Equal(1, qc.Rejections.LowSnr);
        Assert.Equal(1, qc.Rejections.Clipped);
        Assert.InRange(qc.MinSnrDb!.Value, 25, 40);
    }

    private TakeResult Single(string file) =>
        new EnrollmentSession(new EnrollmentPolicy { TakeCount = 1 }).SubmitTake(takes.Samples(file));

    private static double Dtw(EnrollmentData d, int i, int j)
    {
        EnrolledTake a = d.Takes[i], b = d.Takes[j];
        var ma = new double[13];
        var mb = new double[13];
        DtwDistance.ComputeMean(a.Features, a.FrameCount, 13, ma);
        DtwDistance.ComputeMean(b.Features, b.FrameCount, 13, mb);
        return DtwDistance.Compute(a.Features, a.FrameCount, ma, b.Features, b.FrameCount, mb, 13, new double[DtwDistance.ScratchLength(b.FrameCount)]);
    }

    private static string Describe(TakeResult r) =>
        $"{r.Figures} failures: {string.Join("; ", r.Failures.Select(f => f.Reason))}";

    [GeneratedRegex(@"^background noise: (\d+\.\d) dB SNR, 20 dB needed$")]
    private static partial Regex SnrReason();
}

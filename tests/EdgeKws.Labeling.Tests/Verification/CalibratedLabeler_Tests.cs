using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Verification;

namespace EdgeKws.Labeling.Tests.Verification;

/// <summary>
/// The calibrated label decision on synthetic evidence whose truth is known: the fit recovers a known relation, its
/// probabilities are calibrated on fresh draws, a confidently wrong signal is overruled, and the precision target moves the
/// review rate (and holds) as it should.
/// </summary>
public class CalibratedLabeler_Tests
{
    // Evidence of one clip: the device and verifier scores carry the truth (noisy logits around +-2), the aligner's
    // confidence is near useless (far-field audio: it says 0.9 half the time whatever the clip holds), near misses win at random.
    private static (LabelEvidence Evidence, bool Truth) Draw(Random rng, bool truth)
    {
        double Logit(double mean) => mean + (1.5 * Normal(rng));
        double device = Sigmoid(Logit(truth ? 2.0 : -2.0));
        double verifier = Sigmoid(Logit(truth ? 2.5 : -2.5));
        bool nearMiss = rng.NextDouble() < 0.5;
        double aligner = rng.NextDouble() < 0.5 ? 0.9 : rng.NextDouble();
        return (new LabelEvidence(true, aligner, nearMiss ? "hey hedge" : null, nearMiss ? 0 : null, device, verifier), truth);
    }

    private static List<(LabelEvidence Evidence, bool IsTrueAccept)> Set(int seed, int n)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(i => Draw(rng, i % 2 == 0))];
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    [Fact]
    public void The_fit_weights_the_informative_signals_and_its_probabilities_are_calibrated_on_fresh_clips()
    {
        LabelCalibration c = LabelCalibration.Fit(Set(1, 4000), fittedOn: "synthetic");
        int device = LabelEvidence.FeatureNames.ToList().IndexOf("deviceLogit");
        int verifier = LabelEvidence.FeatureNames.ToList().IndexOf("verifierLogit");
        int aligner = LabelEvidence.FeatureNames.ToList().IndexOf("alignerConfidence");
        Assert.True(c.Weights[device] > 1 && c.Weights[verifier] > 1, $"device {c.Weights[device]}, verifier {c.Weights[verifier]}");
        Assert.True(Math.Abs(c.Weights[aligner]) < 0.2, $"aligner weight {c.Weights[aligner]}");
        Assert.Equal(4000, c.Examples);
        Assert.Equal(2000, c.TrueAccepts);

        // Calibration on 20,000 fresh clips: the expected calibration error over probability deciles (weighted by clips)
        // is under 0.02, and in each decile the share that truly holds the wake phrase is within 0.02 plus three binomial
        // standard errors of the mean predicted probability (the middle deciles hold only a few hundred clips).
        var fresh = Set(2, 20_000).Select(e => (P: c.ProbabilityTrueAccept(e.Evidence), e.IsTrueAccept)).ToList();
        double ece = 0;
        foreach (var bin in fresh.GroupBy(x => Math.Min(9, (int)(x.P * 10))))
        {
            double predicted = bin.Average(x => x.P), observed = bin.Average(x => x.IsTrueAccept ? 1.0 : 0.0);
            ece += Math.Abs(predicted - observed) * bin.Count() / fresh.Count;
            double allowed = 0.02 + (3 * Math.Sqrt(Math.Max(observed * (1 - observed), 0.01) / bin.Count()));
            Assert.True(Math.Abs(predicted - observed) <= allowed, $"decile {bin.Key}: predicted {predicted:0.000}, observed {observed:0.000} over {bin.Count()} clips (allowed {allowed:0.000})");
        }
        Assert.True(ece < 0.02, $"expected calibration error {ece:0.0000}");
    }

    [Fact]
    public void A_confidently_wrong_aligner_is_overruled_by_the_signals_that_carry_the_truth()
    {
        var labeler = new CalibratedLabeler(LabelCalibration.Fit(Set(3, 4000)));
        // The aligner is sure the wake phrase is there and no near miss fits better; the device and the verifier say no.
        LabelDecision d = labeler.Decide(new LabelEvidence(true, 0.99, null, null, DeviceScore: 0.02, VerifierScore: 0.01));
        Assert.NotEqual(TriggerLabel.TrueAccept, d.Label);
        Assert.True(d.ProbabilityTrueAccept < 0.05, d.Reason);
        Assert.Contains("aligner 0.99", d.Reason, StringComparison.Ordinal);
        Assert.Contains("device 0.020", d.Reason, StringComparison.Ordinal);

        // Signals that disagree strongly go to a person.
        LabelDecision split = labeler.Decide(new LabelEvidence(true, 0.5, null, null, DeviceScore: 0.97, VerifierScore: 0.03));
        Assert.Equal(TriggerLabel.NeedsReview, split.Label);
    }

    [Fact]
    public void A_higher_precision_target_sends_more_clips_to_review_and_the_decided_labels_meet_it()
    {
        LabelCalibration c = LabelCalibration.Fit(Set(4, 4000));
        var test = Set(5, 10_000);
        double lastReview = -1;
        foreach (double target in new[] { 0.8, 0.9, 0.95, 0.98, 0.99 })
        {
            var labeler = new CalibratedLabeler(c, target, target);
            var decisions = test.Select(e => (labeler.Decide(e.Evidence).Label, e.IsTrueAccept)).ToList();
            double review = decisions.Count(d => d.Label == TriggerLabel.NeedsReview) / (double)decisions.Count;
            var ta = decisions.Where(d => d.Label == TriggerLabel.TrueAccept).ToList();
            var fa = decisions.Where(d => d.Label == TriggerLabel.FalseAccept).ToList();
            Assert.True(review > lastReview, $"target {target}: review rate {review:0.000} not above {lastReview:0.000}");
            Assert.True(ta.Count > 100 && fa.Count > 100, $"target {target}: {ta.Count} TA, {fa.Count} FA decided");
            double taPrecision = ta.Count(d => d.IsTrueAccept) / (double)ta.Count, faPrecision = fa.Count(d => !d.IsTrueAccept) / (double)fa.Count;
            Assert.True(taPrecision >= target && faPrecision >= target, $"target {target}: TA precision {taPrecision:0.000}, FA precision {faPrecision:0.000}");
            lastReview = review;
        }
    }

    [Fact]
    public void Saves_and_loads_the_same_calibration_and_refuses_bad_files_naming_the_problem()
    {
        using var dir = new TempDirectory();
        LabelCalibration c = LabelCalibration.Fit(Set(6, 500), fittedOn: "synthetic set 6");
        string path = dir.File("label-calibration.json");
        c.Save(path);
        LabelCalibration back = LabelCalibration.Load(path);
        var probe = new LabelEvidence(true, 0.7, "hey hedge", 1.5, 0.8, 0.6);
        Assert.Equal(c.ProbabilityTrueAccept(probe), back.ProbabilityTrueAccept(probe));
        Assert.Equal("synthetic set 6", back.FittedOn);

        string text = File.ReadAllText(path);
        Assert.Contains("weights", Assert.Throws<InvalidDataException>(() => LabelCalibration.Load(dir.File("short.json",
            text.Replace("\"bias\"", "\"weights\": [1], \"bias\"", StringComparison.Ordinal).Replace("\"weights\": [\n", "\"unused\": [\n", StringComparison.Ordinal)))).Message, StringComparison.Ordinal);
        Assert.Contains("format", Assert.Throws<InvalidDataException>(() => LabelCalibration.Load(dir.File("other.json",
            text.Replace(LabelCalibration.FormatName, "something-else/1", StringComparison.Ordinal)))).Message, StringComparison.Ordinal);
        Assert.Contains("not a label calibration", Assert.Throws<InvalidDataException>(() => LabelCalibration.Load(dir.File("junk.json", "{ nope"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_to_fit_one_class_and_targets_outside_the_open_interval()
    {
        var onlyTrue = Set(7, 100).Where(e => e.IsTrueAccept).ToList();
        Assert.Contains("both kinds", Assert.Throws<ArgumentException>(() => LabelCalibration.Fit(onlyTrue)).Message, StringComparison.Ordinal);
        LabelCalibration c = LabelCalibration.Fit(Set(8, 200));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibratedLabeler(c, 0.5, 0.98));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibratedLabeler(c, 0.98, 1.0));
    }
}

using EdgeKws.Shared.Features;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Features;

/// <summary>
/// Parity against torchaudio.compliance.kaldi.mfcc run in float64 (fixtures and the reason for
/// float64 in tools/parity/mfcc_golden.py).
/// Metric, per frame t: max_k |c_tk - g_tk| / max(max_k |g_tk|, 1) must be at most 1e-3, where c is
/// ours and g torchaudio's. Normalizing by the frame's largest coefficient (C0 or the log energy,
/// typically 10-150 at int16 scale) judges near-zero coefficients against the frame, not against
/// themselves; the floor of 1 makes the bound absolute (1e-3) for frames whose coefficients are all
/// below 1, which only digital silence produces: there the true cepstrum is exactly 0 and
/// torchaudio's float32 DCT table alone leaves about 4e-4 of noise.
/// </summary>
public sealed class MfccParity_Tests(ITestOutputHelper output)
{
    public const double Tolerance = 1e-3;

    public static TheoryData<string> FixtureNames()
    {
        var data = new TheoryData<string>();
        foreach (MfccFixtures.Fixture f in MfccFixtures.All())
        {
            data.Add(f.Name);
        }

        return data;
    }

    public static double WorstFrameError(ReadOnlySpan<float> ours, ReadOnlySpan<double> golden, int coefficients)
    {
        double worst = 0;
        for (int t = 0; t < golden.Length / coefficients; t++)
        {
            double diff = 0, scale = 0;
            for (int k = 0; k < coefficients; k++)
            {
                int i = t * coefficients + k;
                diff = Math.Max(diff, Math.Abs((double)ours[i] - golden[i]));
                scale = Math.Max(scale, Math.Abs(golden[i]));
            }

            worst = Math.Max(worst, diff / Math.Max(scale, 1.0));
        }

        return worst;
    }

    [Theory]
    [MemberData(nameof(FixtureNames))]
    public void Matches_torchaudio_kaldi_mfcc_within_1e3_per_frame(string name)
    {
        MfccFixtures.Fixture f = MfccFixtures.Get(name);
        MfccConfig config = MfccConfig.Parse(f.ConfigText);
        Assert.Equal(f.Coefficients, config.CoefficientCount);
        Assert.Equal(f.Frames, config.FrameCount(f.Signal.Length));

        float[] ours = MfccFixtures.Extract(config, f.Signal);

        Assert.Equal(f.Golden.Length, ours.Length);
        double worst = WorstFrameError(ours, f.Golden, f.Coefficients);
        output.WriteLine($"{name}: {f.Frames} frames, worst per-frame relative error {worst:E3} (torchaudio float32: {f.TorchaudioFloat32Error:E3})");
        Assert.True(worst <= Tolerance, $"{name}: worst per-frame relative error {worst:E3} exceeds {Tolerance:E0}");
    }

    [Theory]
    [MemberData(nameof(FixtureNames))]
    public void Agrees_with_python_on_canonical_text_and_hash(string name)
    {
        MfccFixtures.Fixture f = MfccFixtures.Get(name);
        MfccConfig config = MfccConfig.Parse(f.ConfigText);

        Assert.Equal(f.ConfigText, config.ToCanonicalString());
        Assert.Equal(f.PythonHash, config.FeatureConfigHash);
    }

    [Fact]
    public void Default_config_fixtures_use_MfccConfig_Default()
    {
        MfccFixtures.Fixture f = MfccFixtures.Get("speech_hey_edge");

        Assert.Equal(MfccConfig.Default, MfccConfig.Parse(f.ConfigText));
    }
}

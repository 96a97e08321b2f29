using Xunit.Abstractions;

namespace EdgeKws.Acoustics.Tests;

public sealed class MicrophoneResponse_Tests(ITestOutputHelper output)
{
    private const int Fs = TestSignals.SampleRateHz;

    private static readonly double[] TenFrequencies = [100, 200, 300, 500, 1000, 2000, 3000, 4000, 5500, 7000];

    public static TheoryData<string> PresetNames()
    {
        var data = new TheoryData<string>();
        foreach (MicrophoneResponse preset in MicrophoneResponse.Presets)
        {
            data.Add(preset.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void Cascade_measured_with_sines_equals_predicted_within_0_1_dB_at_ten_frequencies(string name)
    {
        MicrophoneResponse mic = MicrophoneResponse.Presets.Single(p => p.Name == name);
        AssertMeasuredEqualsPredicted(mic);
    }

    [Theory]
    [InlineData(1ul)]
    [InlineData(2ul)]
    [InlineData(3ul)]
    [InlineData(4ul)]
    public void Random_colourings_also_measure_as_predicted(ulong seed) => AssertMeasuredEqualsPredicted(MicrophoneResponse.Random(seed));

    [Fact]
    public void Telephone_preset_attenuates_100_Hz_and_6_kHz_by_at_least_20_dB_relative_to_1_kHz()
    {
        MicrophoneResponse phone = MicrophoneResponse.Presets.Single(p => p.Name == "telephone");
        double at1k = TestSignals.MeasuredGainDb(s => phone.Apply(s, Fs), 1000);
        double at100 = TestSignals.MeasuredGainDb(s => phone.Apply(s, Fs), 100);
        double at6k = TestSignals.MeasuredGainDb(s => phone.Apply(s, Fs), 6000);
        output.WriteLine($"telephone: 1 kHz {at1k:F2} dB, 100 Hz {at100 - at1k:F1} dB, 6 kHz {at6k - at1k:F1} dB relative");
        Assert.True(at100 - at1k <= -20);
        Assert.True(at6k - at1k <= -20);
        Assert.InRange(at1k, -0.5, 0.5);
    }

    [Fact]
    public void Mems_budget_preset_has_its_presence_bump_and_band_edges()
    {
        MicrophoneResponse mems = MicrophoneResponse.Presets.Single(p => p.Name == "mems-budget");
        Assert.InRange(mems.MagnitudeDb(3000, Fs) - mems.MagnitudeDb(1000, Fs), 2, 5);
        Assert.True(mems.MagnitudeDb(60, Fs) < -6);
        Assert.True(mems.MagnitudeDb(7800, Fs) < -6);
    }

    [Fact]
    public void Flat_changes_nothing_and_presets_have_unique_names()
    {
        float[] x = TestSignals.Noise(500, 1);
        float[] y = (float[])x.Clone();
        MicrophoneResponse.Flat.Apply(y, Fs);
        Assert.Equal(x, y);
        Assert.Equal(0, MicrophoneResponse.Flat.MagnitudeDb(1234, Fs));

        Assert.InRange(MicrophoneResponse.Presets.Count, 5, 8);
        Assert.Equal(MicrophoneResponse.Presets.Count, MicrophoneResponse.Presets.Select(p => p.Name).Distinct().Count());
    }

    [Fact]
    public void Random_is_deterministic_from_the_seed_and_names_its_preset_and_seed()
    {
        Assert.Equal(MicrophoneResponse.Random(42), MicrophoneResponse.Random(42));
        Assert.NotEqual(MicrophoneResponse.Random(42), MicrophoneResponse.Random(43));

        var presetsSeen = new HashSet<string>();
        for (ulong seed = 0; seed < 200; seed++)
        {
            MicrophoneResponse mic = MicrophoneResponse.Random(seed);
            string preset = mic.Name[..mic.Name.IndexOf('~', StringComparison.Ordinal)];
            Assert.Equal($"{preset}~jitter{seed}", mic.Name);
            MicrophoneResponse original = MicrophoneResponse.Presets.Single(p => p.Name == preset);
            Assert.Equal(original.Stages.Count, mic.Stages.Count);
            for (int i = 0; i < mic.Stages.Count; i++)
            {
                double octaves = Math.Log2(mic.Stages[i].FrequencyHz / original.Stages[i].FrequencyHz);
                Assert.InRange(octaves, -1.0 / 3 - 1e-9, 1.0 / 3 + 1e-9);
                Assert.InRange(mic.Stages[i].GainDb - original.Stages[i].GainDb, -2, 2);
            }

            presetsSeen.Add(preset);
        }

        Assert.Equal(MicrophoneResponse.Presets.Count - 1, presetsSeen.Count); // every preset but flat
    }

    private void AssertMeasuredEqualsPredicted(MicrophoneResponse mic)
    {
        double worst = 0;
        foreach (double f in TenFrequencies)
        {
            double measured = TestSignals.MeasuredGainDb(s => mic.Apply(s, Fs), f);
            double predicted = mic.MagnitudeDb(f, Fs);
            worst = Math.Max(worst, Math.Abs(measured - predicted));
            Assert.True(Math.Abs(measured - predicted) <= 0.1, $"{mic.Name} at {f} Hz: measured {measured:F3} dB, predicted {predicted:F3} dB");
        }

        output.WriteLine($"{mic.Name}: largest |measured - predicted| {worst:F5} dB at 10 frequencies");
    }
}

using System.Security.Cryptography;
using System.Text;
using EdgeKws.Shared.Features;

namespace EdgeKws.Shared.Tests.Features;

public sealed class MfccConfig_Tests
{
    // Regression value only: the test recomputes it from the canonical text as well.
    private const string DefaultHash = "733e2273fbe3d4c0d045b290c4e241d05982847bb330100c56cbc963149c8166";

    private const string DefaultCanonical =
        "{\"format\":\"edgekws-mfcc/1\",\"sample_rate_hz\":16000,\"window_ms\":25,\"hop_ms\":10,\"fft_size\":512," +
        "\"window\":\"povey\",\"preemphasis\":0.97,\"remove_dc_offset\":true,\"mel_bins\":40,\"mel_low_hz\":20," +
        "\"mel_high_hz\":7600,\"coefficients\":13,\"cepstral_lifter\":22,\"log_floor\":1.1920928955078125e-07," +
        "\"use_energy\":false,\"energy_floor\":1,\"reference_level\":32768,\"dither\":0,\"snip_edges\":true," +
        "\"int8_scale\":1.2,\"int8_zero_point\":0}";

    [Fact]
    public void Default_config_is_valid_with_400_sample_window_and_160_sample_hop()
    {
        MfccConfig.Default.Validate();

        Assert.Equal(400, MfccConfig.Default.WindowSamples);
        Assert.Equal(160, MfccConfig.Default.HopSamples);
        Assert.Equal(13, MfccConfig.Default.CoefficientCount);
        Assert.Equal(40, MfccConfig.Default.MelBinCount);
    }

    [Fact]
    public void Writes_the_documented_canonical_text_for_the_default()
    {
        Assert.Equal(DefaultCanonical, MfccConfig.Default.ToCanonicalString());
    }

    [Fact]
    public void Hash_is_lowercase_sha256_of_the_canonical_text_and_stable()
    {
        string recomputed = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(MfccConfig.Default.ToCanonicalString())));

        Assert.Equal(recomputed, MfccConfig.Default.FeatureConfigHash);
        Assert.Equal(DefaultHash, MfccConfig.Default.FeatureConfigHash);
    }

    public static TheoryData<MfccConfig> Variants() => new()
    {
        MfccConfig.Default,
        MfccConfig.Default with { Window = MfccWindow.Hamming, UseEnergy = true, EnergyFloor = 0.1 },
        MfccConfig.Default with { Window = MfccWindow.Rectangular, WindowMs = 32, HopMs = 16, FftSize = 1024 },
        MfccConfig.Default with { Window = MfccWindow.Hann, MelBinCount = 23, MelLowHz = 64.5, MelHighHz = 8000, CepstralLifter = 0 },
        MfccConfig.Default with { PreemphasisCoefficient = 0, RemoveDcOffset = false, LogFloor = 1e-10, ReferenceLevel = 1 },
        MfccConfig.Default with { Int8Scale = 0.7843137254901961, Int8ZeroPoint = -3 },
        MfccConfig.Default with { SampleRateHz = 8000, MelHighHz = 3800, MelBinCount = 23 },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Parse_of_canonical_text_round_trips_to_an_equal_config(MfccConfig config)
    {
        string text = config.ToCanonicalString();

        MfccConfig parsed = MfccConfig.Parse(text);

        Assert.Equal(config, parsed);
        Assert.Equal(text, parsed.ToCanonicalString());
        Assert.Equal(config.FeatureConfigHash, parsed.FeatureConfigHash);
    }

    [Fact]
    public void Parse_accepts_reordered_keys_and_whitespace_and_gives_the_same_hash()
    {
        string reordered = "{ \"int8_zero_point\": 0, \"int8_scale\": 1.2, \"snip_edges\": true, \"dither\": 0.0,\n" +
            " \"reference_level\": 32768.0, \"energy_floor\": 1, \"use_energy\": false, \"log_floor\": 1.1920928955078125E-07,\n" +
            " \"cepstral_lifter\": 22, \"coefficients\": 13, \"mel_high_hz\": 7600, \"mel_low_hz\": 20, \"mel_bins\": 40,\n" +
            " \"remove_dc_offset\": true, \"preemphasis\": 0.97, \"window\": \"povey\", \"fft_size\": 512, \"hop_ms\": 10,\n" +
            " \"window_ms\": 25, \"sample_rate_hz\": 16000, \"format\": \"edgekws-mfcc/1\" }";

        MfccConfig parsed = MfccConfig.Parse(reordered);

        Assert.Equal(MfccConfig.Default, parsed);
        Assert.Equal(DefaultHash, parsed.FeatureConfigHash);
    }

    [Fact]
    public void Hash_changes_when_any_field_changes_including_int8_parameters()
    {
        MfccConfig d = MfccConfig.Default;
        MfccConfig[] changed =
        [
            d with { SampleRateHz = 8000, MelHighHz = 4000 }, d with { WindowMs = 20 }, d with { HopMs = 12.5 },
            d with { FftSize = 1024 }, d with { Window = MfccWindow.Hann }, d with { PreemphasisCoefficient = 0.95 },
            d with { RemoveDcOffset = false }, d with { MelBinCount = 32 }, d with { MelLowHz = 40 },
            d with { MelHighHz = 8000 }, d with { CoefficientCount = 12 }, d with { CepstralLifter = 0 },
            d with { LogFloor = 1e-6 }, d with { UseEnergy = true }, d with { EnergyFloor = 0 },
            d with { ReferenceLevel = 1 }, d with { Int8Scale = 0.5 }, d with { Int8ZeroPoint = 1 },
        ];

        var hashes = new HashSet<string> { d.FeatureConfigHash };
        foreach (MfccConfig c in changed)
        {
            c.Validate();
            Assert.True(hashes.Add(c.FeatureConfigHash), $"duplicate hash for {c.ToCanonicalString()}");
        }
    }

    public static TheoryData<string, MfccConfig> InvalidFields() => new()
    {
        { nameof(MfccConfig.SampleRateHz), MfccConfig.Default with { SampleRateHz = 0 } },
        { nameof(MfccConfig.WindowMs), MfccConfig.Default with { WindowMs = 25.03 } },
        { nameof(MfccConfig.WindowMs), MfccConfig.Default with { WindowMs = -1 } },
        { nameof(MfccConfig.HopMs), MfccConfig.Default with { HopMs = 0 } },
        { nameof(MfccConfig.HopMs), MfccConfig.Default with { HopMs = double.NaN } },
        { nameof(MfccConfig.FftSize), MfccConfig.Default with { FftSize = 500 } },
        { nameof(MfccConfig.FftSize), MfccConfig.Default with { FftSize = 256 } },
        { nameof(MfccConfig.Window), MfccConfig.Default with { Window = (MfccWindow)9 } },
        { nameof(MfccConfig.PreemphasisCoefficient), MfccConfig.Default with { PreemphasisCoefficient = 1.5 } },
        { nameof(MfccConfig.MelLowHz), MfccConfig.Default with { MelLowHz = -1 } },
        { nameof(MfccConfig.MelHighHz), MfccConfig.Default with { MelHighHz = 9000 } },
        { nameof(MfccConfig.MelHighHz), MfccConfig.Default with { MelHighHz = 10 } },
        { nameof(MfccConfig.MelBinCount), MfccConfig.Default with { MelBinCount = 3 } },
        { nameof(MfccConfig.MelBinCount), MfccConfig.Default with { MelBinCount = 128 } },
        { nameof(MfccConfig.CoefficientCount), MfccConfig.Default with { CoefficientCount = 41 } },
        { nameof(MfccConfig.CoefficientCount), MfccConfig.Default with { CoefficientCount = 0 } },
        { nameof(MfccConfig.CepstralLifter), MfccConfig.Default with { CepstralLifter = -1 } },
        { nameof(MfccConfig.LogFloor), MfccConfig.Default with { LogFloor = 0 } },
        { nameof(MfccConfig.EnergyFloor), MfccConfig.Default with { EnergyFloor = double.PositiveInfinity } },
        { nameof(MfccConfig.ReferenceLevel), MfccConfig.Default with { ReferenceLevel = 0 } },
        { nameof(MfccConfig.Int8Scale), MfccConfig.Default with { Int8Scale = 0 } },
        { nameof(MfccConfig.Int8ZeroPoint), MfccConfig.Default with { Int8ZeroPoint = 128 } },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public void Validate_names_the_invalid_field(string field, MfccConfig config)
    {
        var ex = Assert.Throws<ArgumentException>(config.Validate);

        Assert.Equal(field, ex.ParamName);
        Assert.Contains("MfccConfig." + field, ex.Message);
        Assert.Throws<ArgumentException>(() => new MfccExtractor(config));
    }

    [Fact]
    public void Validate_reports_an_empty_mel_bin_by_index()
    {
        var ex = Assert.Throws<ArgumentException>((MfccConfig.Default with { WindowMs = 4, HopMs = 2, FftSize = 64, MelBinCount = 30 }).Validate);

        Assert.Equal(nameof(MfccConfig.MelBinCount), ex.ParamName);
        Assert.Contains("mel bin 0 no FFT bin", ex.Message);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("{\"format\":", "not valid JSON")]
    [InlineData("{\"format\":\"edgekws-mfcc/2\"}", "\"format\" is \"edgekws-mfcc/2\"")]
    public void Parse_rejects_malformed_text_with_a_specific_error(string text, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => MfccConfig.Parse(text));

        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("\"dither\":0", "\"dither\":0.1", "\"dither\" must be 0")]
    [InlineData("\"snip_edges\":true", "\"snip_edges\":false", "\"snip_edges\" must be true")]
    [InlineData("\"fft_size\":512", "\"fft_size\":512.5", "\"fft_size\" must be an integer")]
    [InlineData("\"window\":\"povey\"", "\"window\":\"blackman\"", "\"window\" must be one of")]
    [InlineData("\"use_energy\":false", "\"use_energy\":0", "\"use_energy\" must be a boolean")]
    [InlineData(",\"mel_bins\":40", "", "\"mel_bins\" is missing")]
    [InlineData("\"int8_zero_point\":0", "\"int8_zero_point\":0,\"extra\":1", "unknown key \"extra\"")]
    [InlineData("\"fft_size\":512", "\"fft_size\":300", "MfccConfig.FftSize")]
    public void Parse_names_the_bad_key(string original, string replacement, string expected)
    {
        string text = DefaultCanonical.Replace(original, replacement, StringComparison.Ordinal);
        Assert.NotEqual(DefaultCanonical, text);

        Assert.False(MfccConfig.TryParse(text, out MfccConfig? config, out string? error));

        Assert.Null(config);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void FrameCount_follows_kaldi_snip_edges()
    {
        MfccConfig c = MfccConfig.Default;

        Assert.Equal(0, c.FrameCount(0));
        Assert.Equal(0, c.FrameCount(399));
        Assert.Equal(1, c.FrameCount(400));
        Assert.Equal(1, c.FrameCount(559));
        Assert.Equal(2, c.FrameCount(560));
        Assert.Equal(98, c.FrameCount(16000));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.FrameCount(-1));
    }
}

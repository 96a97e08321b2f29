using System.Runtime.InteropServices;
using System.Security.Cryptography;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.Shared.Features;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Features;

public sealed class MfccExtractor_Tests(ITestOutputHelper output)
{
    // SHA-256 of the float bits the default config produces for MixedAudio(16000 * 5). Every platform
    // (x64 gateway, arm64 device) must reproduce it: the features are defined to the bit.
    private const string RecordedBitsHash = "0bb30138c4efa5277520b92891d7d5cb4922a9fdef9f5e24c30dcfb68a23eb7c";

    private static int DocumentedStateBytes(MfccConfig c, int melWeights)
    {
        int w = c.WindowSamples, n = c.FftSize, b = c.MelBinCount, k = c.CoefficientCount;
        return 8 * ((w + 1) / 2) + 4 * w + 8 * n + 8 * (n / 4 + 1) + 2 * (n / 2 - (1 << ((int.Log2(n / 2) + 1) / 2)))
            + 2 * b + 2 * b + 4 * melWeights + 8 * b + 4 * k * ((b + 1) / 2) + 4 * k;
    }

    [Fact]
    public void StateBytes_of_default_config_is_within_16_KiB_and_equals_the_documented_sum()
    {
        var extractor = new MfccExtractor(MfccConfig.Default);

        output.WriteLine($"StateBytes = {extractor.StateBytes}, mel weights = {extractor.MelWeightCount}");
        Assert.True(extractor.StateBytes <= 16384, $"{extractor.StateBytes} bytes exceed the 16 KiB budget");
        Assert.Equal(DocumentedStateBytes(MfccConfig.Default, extractor.MelWeightCount), extractor.StateBytes);
        Assert.Equal(12_252, extractor.StateBytes);
    }

    [Fact]
    public void StateBytes_follows_the_documented_sum_for_other_configs()
    {
        MfccConfig c = MfccConfig.Default with { WindowMs = 32, HopMs = 16, FftSize = 1024, MelBinCount = 23, CoefficientCount = 20 };
        var extractor = new MfccExtractor(c);

        Assert.Equal(DocumentedStateBytes(c, extractor.MelWeightCount), extractor.StateBytes);
    }

    [Fact]
    public void Allocates_zero_bytes_over_ten_minutes_of_streaming_audio()
    {
        short[] second = MfccFixtures.MixedAudio(16000);
        float[] secondFloat = ToFloat(second);
        var extractor = new MfccExtractor(MfccConfig.Default);
        var coefficients = new float[200 * 13];
        var frame = new float[13];
        int[] blocks = [1, 7, 160, 333, 4000, 16000];

        // Warm up every path once so JIT and type initialisation are done before measuring.
        extractor.Push(second, coefficients);
        extractor.Push(secondFloat, coefficients);
        extractor.ProcessFrame(secondFloat.AsSpan(0, 400), frame);
        extractor.ProcessFrame(second.AsSpan(0, 400), frame);

        long frames = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () => frames = 0,
            measured: () =>
            {
                for (int s = 0; s < 600; s++)
                {
                    int block = blocks[s % blocks.Length];
                    for (int i = 0; i < 16000; i += block)
                    {
                        int n = Math.Min(block, 16000 - i);
                        frames += (s & 1) == 0
                            ? extractor.Push(second.AsSpan(i, n), coefficients)
                            : extractor.Push(secondFloat.AsSpan(i, n), coefficients);
                    }

                    extractor.ProcessFrame(secondFloat.AsSpan(s, 400), frame);
                    extractor.ProcessFrame(second.AsSpan(s, 400), frame);
                }
            });

        output.WriteLine($"{frames} streamed frames + 1200 single frames, {allocated} bytes allocated");
        Assert.True(frames >= 59_900, $"only {frames} frames: less than 10 minutes processed");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Two_extractors_and_two_runs_give_identical_bits()
    {
        short[] audio = MfccFixtures.MixedAudio(16000 * 5);
        float[] first = MfccFixtures.Extract(MfccConfig.Default, audio);
        float[] second = MfccFixtures.Extract(MfccConfig.Default, audio);

        var reused = new MfccExtractor(MfccConfig.Default);
        var third = new float[first.Length];
        reused.Push(audio, third);
        reused.Reset();
        var fourth = new float[first.Length];
        reused.Push(audio, fourth);

        Assert.Equal(Bits(first), Bits(second));
        Assert.Equal(Bits(first), Bits(third));
        Assert.Equal(Bits(first), Bits(fourth));
    }

    [Fact]
    public void Default_config_reproduces_the_recorded_bits()
    {
        float[] features = MfccFixtures.Extract(MfccConfig.Default, MfccFixtures.MixedAudio(16000 * 5));

        string hash = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(features.AsSpan())));

        output.WriteLine(hash);
        Assert.Equal(RecordedBitsHash, hash);
    }

    public static TheoryData<int, bool> BlockSizes() => new()
    {
        { 1, false }, { 7, false }, { 160, false }, { 4000, false },
        { 1, true }, { 7, true }, { 160, true }, { 4000, true },
    };

    [Theory]
    [MemberData(nameof(BlockSizes))]
    public void Streaming_in_blocks_matches_per_frame_processing_exactly(int blockSize, bool useFloat)
    {
        MfccConfig config = MfccConfig.Default;
        short[] audio = MfccFixtures.MixedAudio(16000 * 2 + 123);
        float[] audioFloat = ToFloat(audio);
        int frames = config.FrameCount(audio.Length);

        var perFrame = new float[frames * 13];
        var single = new MfccExtractor(config);
        for (int t = 0; t < frames; t++)
        {
            single.ProcessFrame(audioFloat.AsSpan(t * 160, 400), perFrame.AsSpan(t * 13, 13));
        }

        var streamer = new MfccExtractor(config);
        var streamed = new float[frames * 13];
        int written = 0;
        for (int i = 0; i < audio.Length; i += blockSize)
        {
            int n = Math.Min(blockSize, audio.Length - i);
            int expected = streamer.FramesForNextPush(n);
            int got = useFloat
                ? streamer.Push(audioFloat.AsSpan(i, n), streamed.AsSpan(written * 13))
                : streamer.Push(audio.AsSpan(i, n), streamed.AsSpan(written * 13));
            Assert.Equal(expected, got);
            written += got;
        }

        Assert.Equal(frames, written);
        Assert.Equal(frames, streamer.FramesEmitted);
        Assert.Equal(Bits(perFrame), Bits(streamed));
    }

    [Fact]
    public void Short_and_normalized_float_inputs_give_identical_bits()
    {
        short[] audio = MfccFixtures.MixedAudio(8000);
        float[] fromShort = MfccFixtures.Extract(MfccConfig.Default, audio);
        var extractor = new MfccExtractor(MfccConfig.Default);
        var fromFloat = new float[fromShort.Length];
        extractor.Push(ToFloat(audio), fromFloat);

        Assert.Equal(Bits(fromShort), Bits(fromFloat));
    }

    [Fact]
    public void Hop_longer_than_window_skips_the_samples_between_frames()
    {
        MfccConfig config = MfccConfig.Default with { HopMs = 40 };
        short[] audio = MfccFixtures.MixedAudio(16000);
        int frames = config.FrameCount(audio.Length);
        var single = new MfccExtractor(config);
        var expected = new float[frames * 13];
        for (int t = 0; t < frames; t++)
        {
            single.ProcessFrame(audio.AsSpan(t * 640, 400), expected.AsSpan(t * 13, 13));
        }

        var streamer = new MfccExtractor(config);
        var streamed = new float[frames * 13];
        int written = 0;
        for (int i = 0; i < audio.Length; i += 97)
        {
            written += streamer.Push(audio.AsSpan(i, Math.Min(97, audio.Length - i)), streamed.AsSpan(written * 13));
        }

        Assert.Equal(25, frames);
        Assert.Equal(frames, written);
        Assert.Equal(Bits(expected), Bits(streamed));
    }

    [Fact]
    public void Push_rejects_an_output_buffer_too_small_for_the_frames_it_would_emit()
    {
        var extractor = new MfccExtractor(MfccConfig.Default);
        var audio = new short[560];

        var ex = Assert.Throws<ArgumentException>(() => extractor.Push(audio, new float[13]));

        Assert.Contains("emits 2 frames, which need 26 floats", ex.Message);
        Assert.Equal(0, extractor.FramesEmitted);
    }

    [Fact]
    public void ProcessFrame_rejects_a_frame_of_the_wrong_length_and_a_short_output()
    {
        var extractor = new MfccExtractor(MfccConfig.Default);

        var wrongFrame = Assert.Throws<ArgumentException>(() => extractor.ProcessFrame(new float[399], new float[13]));
        var shortOutput = Assert.Throws<ArgumentException>(() => extractor.ProcessFrame(new float[400], new float[12]));

        Assert.Contains("exactly 400 samples", wrongFrame.Message);
        Assert.Contains("at least 13 floats", shortOutput.Message);
    }

    [Fact]
    public void Silence_gives_kaldi_floor_features()
    {
        var extractor = new MfccExtractor(MfccConfig.Default);
        var c = new float[13];

        extractor.ProcessFrame(new short[400], c);

        // Every mel energy sits at the float-epsilon floor: C0 = sqrt(40) * ln(eps), the rest 0.
        Assert.Equal(Math.Sqrt(40) * Math.Log(MfccConfig.KaldiLogFloor), c[0], 4);
        for (int i = 1; i < 13; i++)
        {
            Assert.Equal(0, c[i], 5);
        }
    }

    private static float[] ToFloat(short[] s)
    {
        var f = new float[s.Length];
        for (int i = 0; i < s.Length; i++)
        {
            f[i] = s[i] / 32768f;
        }

        return f;
    }

    private static int[] Bits(float[] values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        }

        return bits;
    }
}

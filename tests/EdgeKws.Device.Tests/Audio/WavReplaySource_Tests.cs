using System.Diagnostics;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Tests.Testing;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.TestSupport;

namespace EdgeKws.Device.Tests.Audio;

public sealed class WavReplaySource_Tests : IDisposable
{
    private static readonly WavReplayOptions Fast = new() { RealTime = false };

    private readonly string _dir = Directory.CreateTempSubdirectory("edgekws-wavreplay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(320)]
    [InlineData(5_000)]
    public void Samples_equal_the_16_kHz_pcm16_files_exactly(int blockSamples)
    {
        var pattern = TestSignals.UniquePattern(20_011);
        string path = WritePcm16(pattern);
        using var source = new WavReplaySource(path, Fast);

        var got = ReadAll(source, blockSamples);

        Assert.Equal(pattern, got);
        Assert.Equal(pattern.Length, source.SamplesRead);
        Assert.Equal(16_000, source.SampleRateHz);
        Assert.Equal($"wav:{path}", source.Name);
        Assert.Equal(0, source.Read(new short[8], CancellationToken.None));
    }

    [Fact]
    public void A_44_1_kHz_stereo_file_comes_out_at_16_kHz_mono_with_its_duration()
    {
        // 1.5 s of a 440 Hz tone, left and right equal: 66 150 frames -> 24 000 samples.
        const int Frames = 66_150;
        var interleaved = new float[Frames * 2];
        for (int i = 0; i < Frames; i++)
        {
            interleaved[2 * i] = interleaved[(2 * i) + 1] = 0.5f * MathF.Sin(2 * MathF.PI * 440 * i / 44_100f);
        }

        string path = Path.Combine(_dir, "tone-44k1-stereo.wav");
        using (var writer = new WavWriter(path, 44_100, 2, WavSampleFormat.Pcm16))
        {
            writer.Write(interleaved);
        }

        using var source = new WavReplaySource(path, Fast);
        var got = ReadAll(source, 320);

        Assert.Equal(24_000, got.Length);
        Assert.True(source.TryGetTotalSamples(out long total));
        Assert.Equal(24_000, total);
        // Still a 440 Hz tone at the new rate: count upward zero crossings away from the edges.
        int upward = 0;
        for (int i = 1000; i < 23_000; i++)
        {
            if (got[i - 1] < 0 && got[i] >= 0)
            {
                upward++;
            }
        }

        Assert.InRange(upward, 604, 606); // 22 000 samples = 1.375 s x 440 Hz = 605 cycles
        Assert.InRange(got.Max(), 15_500, 16_900); // amplitude 0.5 kept through downmix and resampling
    }

    [Fact]
    public void Paced_source_never_delivers_ahead_of_its_clock_and_keeps_up_with_it()
    {
        var pattern = TestSignals.UniquePattern(16_000); // 1 s
        string path = WritePcm16(pattern);
        var clock = new ManualTimeProvider { AutoAdvance = true };
        using var source = new WavReplaySource(path, new WavReplayOptions { RealTime = true }, clock);
        clock.Advance(TimeSpan.FromSeconds(5)); // time between construction and the first read must not be banked

        var buffer = new short[320];
        var got = new List<short>();
        var start = clock.Elapsed;
        int n;
        while ((n = source.Read(buffer, CancellationToken.None)) > 0)
        {
            got.AddRange(buffer.AsSpan(0, n).ToArray());
            long allowed = (clock.Elapsed - start).Ticks * 16_000 / TimeSpan.TicksPerSecond;
            Assert.True(source.SamplesRead <= allowed, $"{source.SamplesRead} samples delivered after {(clock.Elapsed - start).TotalMilliseconds} ms");
        }

        Assert.Equal(pattern, got);
        Assert.Equal(TimeSpan.FromSeconds(1), clock.Elapsed - start); // the wait was exactly the audio's length
    }

    [Fact]
    public async Task Paced_read_blocks_until_the_clock_reaches_the_end_of_its_block()
    {
        string path = WritePcm16(TestSignals.UniquePattern(16_000));
        var clock = new ManualTimeProvider();
        using var source = new WavReplaySource(path, new WavReplayOptions { RealTime = true }, clock);
        var buffer = new short[320]; // 20 ms

        var read = Task.Run(() => source.Read(buffer, CancellationToken.None));
        // The first read starts the source's clock: advance only once it is waiting on its timer. On a loaded machine
        // the pool thread may start the read after both advances, and it would then wait for 20 ms that never come.
        await TestWait.UntilAsync(() => clock.TimerArmCount > 0 || read.IsCompleted, TimeSpan.FromSeconds(60), () => "the read to wait on the clock");
        Assert.False(await FinishesWithin(read, 100));
        clock.Advance(TimeSpan.FromMilliseconds(19));
        Assert.False(await FinishesWithin(read, 100));
        clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(320, await read.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Reader_that_fell_behind_gets_the_backlog_without_waiting()
    {
        string path = WritePcm16(TestSignals.UniquePattern(16_000));
        var clock = new ManualTimeProvider();
        using var source = new WavReplaySource(path, new WavReplayOptions { RealTime = true }, clock);
        var buffer = new short[320];
        clock.AutoAdvance = true;
        Assert.Equal(320, source.Read(buffer, CancellationToken.None)); // starts the clock, waits 20 ms
        clock.AutoAdvance = false;

        clock.Advance(TimeSpan.FromMilliseconds(500));
        int armsBefore = clock.TimerArmCount;
        for (int i = 0; i < 24; i++)  // 24 more blocks = 500 ms: all already due
        {
            Assert.Equal(320, source.Read(buffer, CancellationToken.None));
        }

        Assert.Equal(armsBefore, clock.TimerArmCount);
    }

    [Fact]
    public async Task Cancelled_wait_throws_and_loses_no_audio()
    {
        var pattern = TestSignals.UniquePattern(4_000);
        string path = WritePcm16(pattern);
        var clock = new ManualTimeProvider();
        using var source = new WavReplaySource(path, new WavReplayOptions { RealTime = true }, clock);
        using var cts = new CancellationTokenSource();

        var read = Task.Run(() => source.Read(new short[320], cts.Token));
        // Cancel the wait itself, not a read that has not started yet (a pool thread can be late on a loaded machine).
        await TestWait.UntilAsync(() => clock.TimerArmCount > 0 || read.IsCompleted, TimeSpan.FromSeconds(60), () => "the read to wait on the clock");
        Assert.False(await FinishesWithin(read, 50));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(10)));

        clock.AutoAdvance = true;
        Assert.Equal(pattern, ReadAll(source, 320));
    }

    [Fact]
    public void Fast_mode_never_waits_on_the_clock()
    {
        var pattern = TestSignals.UniquePattern(48_000); // 3 s
        var clock = new ManualTimeProvider();
        using var source = new WavReplaySource(WritePcm16(pattern), Fast, clock);

        Assert.Equal(pattern, ReadAll(source, 320));
        Assert.Equal(TimeSpan.Zero, clock.Elapsed);
        Assert.Equal(0, clock.TimerArmCount);
    }

    [Fact]
    public void Paced_on_the_system_clock_takes_at_least_the_audios_length()
    {
        string path = WritePcm16(TestSignals.UniquePattern(4_000)); // 250 ms
        using var source = new WavReplaySource(path, new WavReplayOptions { RealTime = true });

        var watch = Stopwatch.StartNew();
        var got = ReadAll(source, 320);
        watch.Stop();

        Assert.Equal(4_000, got.Length);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(249), $"{watch.Elapsed.TotalMilliseconds} ms");
    }

    [Theory]
    [InlineData(2, 320)]
    [InlineData(3, 777)]
    [InlineData(3, 50_000)]
    public void Loops_the_file_the_requested_number_of_times(int playCount, int blockSamples)
    {
        var pattern = TestSignals.UniquePattern(10_007);
        using var source = new WavReplaySource(WritePcm16(pattern), Fast with { PlayCount = playCount });

        var got = ReadAll(source, blockSamples);

        var expected = Enumerable.Repeat(pattern, playCount).SelectMany(p => p).ToArray();
        Assert.Equal(expected, got);
        Assert.Equal(playCount, source.CurrentPass);
        Assert.True(source.TryGetTotalSamples(out long total));
        Assert.Equal(expected.Length, total);
        Assert.Equal(0, source.Read(new short[10], CancellationToken.None));
    }

    [Fact]
    public void Looped_resampled_passes_are_identical()
    {
        string path = Path.Combine(_dir, "noise-22k05.wav");
        var rng = new Random(7);
        var noise = new float[22_050 / 2];
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = (float)(rng.NextDouble() - 0.5);
        }

        WavFile.Write(path, noise, 22_050, WavSampleFormat.Float32);
        using var source = new WavReplaySource(path, Fast with { PlayCount = 2 });

        var got = ReadAll(source, 1000);

        Assert.Equal(8_000 * 2, got.Length);
        Assert.Equal(got[..8_000], got[8_000..]);
    }

    [Fact]
    public void Looping_a_file_longer_than_the_limit_is_refused_with_the_path_and_lengths()
    {
        string path = WritePcm16(TestSignals.UniquePattern(32_000)); // 2 s

        var ex = Assert.Throws<ArgumentException>(() => new WavReplaySource(path, Fast with { PlayCount = 2, MaxLoopSeconds = 1 }));

        Assert.Contains(path, ex.Message);
        Assert.Contains("2.0 s", ex.Message);
        Assert.Contains("1 s", ex.Message);
    }

    [Fact]
    public void Play_count_below_one_is_refused()
    {
        string path = WritePcm16(TestSignals.UniquePattern(100));

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new WavReplaySource(path, Fast with { PlayCount = 0 }));
        Assert.Contains("PlayCount", ex.Message);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 3)]
    [InlineData(false, 3)]
    public void Read_allocates_nothing_after_construction(bool realTime, int playCount)
    {
        string path = Path.Combine(_dir, "alloc-44k1.wav");
        var tone = new float[44_100];
        for (int i = 0; i < tone.Length; i++)
        {
            tone[i] = 0.3f * MathF.Sin(i * 0.05f);
        }

        WavFile.Write(path, tone, 44_100, WavSampleFormat.Pcm16);
        var buffer = new short[320];
        // Warm-up: one whole replay with the same options, so first-call JIT and type loading (which
        // allocate on this thread and depend on which tests ran before) happen before measuring.
        using (var warmUp = new WavReplaySource(path, new WavReplayOptions { RealTime = realTime, PlayCount = playCount }, new ManualTimeProvider { AutoAdvance = true }))
        {
            while (warmUp.Read(buffer, CancellationToken.None) > 0)
            {
            }
        }

        WavReplaySource source = null!;
        long samples = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                source?.Dispose();
                source = new WavReplaySource(path, new WavReplayOptions { RealTime = realTime, PlayCount = playCount },
                    new ManualTimeProvider { AutoAdvance = true });
                samples = 0;
            },
            measured: () =>
            {
                int n;
                while ((n = source.Read(buffer, CancellationToken.None)) > 0)
                {
                    samples += n;
                }
            });
        using WavReplaySource lastSource = source;
        Assert.Equal(16_000L * playCount, samples);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Paced_reads_on_the_system_clock_with_a_cancellable_token_allocate_nothing_after_the_first()
    {
        string path = WritePcm16(TestSignals.UniquePattern(4_000)); // 250 ms
        var buffer = new short[320];
        WavReplaySource source = null!;
        CancellationTokenSource cts = null!;
        long samples = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                source?.Dispose();
                cts?.Dispose();
                source = new WavReplaySource(path, new WavReplayOptions { RealTime = true });
                cts = new CancellationTokenSource();
                // The first wait registers with the token source; the runtime allocates that source's
                // registration list once (about 170 bytes) and reuses its nodes for every later wait.
                samples = source.Read(buffer, cts.Token);
            },
            measured: () =>
            {
                int n;
                while ((n = source.Read(buffer, cts.Token)) > 0)
                {
                    samples += n;
                }
            });
        using WavReplaySource lastSource = source;
        using CancellationTokenSource lastCts = cts;
        Assert.Equal(4_000, samples);
        // The first Read need not wait (its block may already be due on a loaded machine), so the
        // token source's one-time registration list (168 bytes on .NET 10) can fall inside the
        // measured loop instead. Anything beyond that one allocation is a per-read allocation.
        Assert.InRange(allocated, 0, 168);
    }

    [Fact]
    public void Missing_file_is_reported_with_its_path()
    {
        string path = Path.Combine(_dir, "nope.wav");

        var ex = Assert.Throws<FileNotFoundException>(() => new WavReplaySource(path));

        Assert.Contains(path, ex.Message);
        Assert.Equal(path, ex.FileName);
    }

    [Fact]
    public void Bad_wav_reports_the_readers_reason_with_the_path()
    {
        string path = Path.Combine(_dir, "not-a-wav.wav");
        File.WriteAllText(path, "this is a text file pretending to be audio, long enough for a header");
        string readerMessage = Assert.Throws<WavFormatException>(() => new WavReader(path)).Message;

        var ex = Assert.Throws<WavFormatException>(() => new WavReplaySource(path));

        Assert.Equal(WavError.NotRiff, ex.Error);
        Assert.Contains(path, ex.Message);
        Assert.Contains(readerMessage, ex.Message);
    }

    [Fact]
    public void Empty_destination_is_refused()
    {
        using var source = new WavReplaySource(WritePcm16(TestSignals.UniquePattern(10)), Fast);

        Assert.Throws<ArgumentException>(() => source.Read(Span<short>.Empty, CancellationToken.None));
    }

    private string WritePcm16(short[] samples)
    {
        string path = Path.Combine(_dir, $"pcm16-{samples.Length}-{Guid.NewGuid():N}.wav");
        var floats = new float[samples.Length];
        Pcm16.ToFloat(samples, floats);
        WavFile.Write(path, floats, 16_000, WavSampleFormat.Pcm16);
        return path;
    }

    private static async Task<bool> FinishesWithin(Task task, int ms) =>
        await Task.WhenAny(task, Task.Delay(ms)) == task;

    private static short[] ReadAll(IAudioSource source, int blockSamples)
    {
        var all = new List<short>();
        var buffer = new short[blockSamples];
        int n;
        while ((n = source.Read(buffer, CancellationToken.None)) > 0)
        {
            all.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return [.. all];
    }
}

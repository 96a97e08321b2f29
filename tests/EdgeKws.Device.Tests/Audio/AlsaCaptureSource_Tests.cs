using EdgeKws.Device.Audio;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.TestSupport;

namespace EdgeKws.Device.Tests.Audio;

/// <summary>
/// Real libasound, real PCM: the ALSA file plugin plays a generated raw file as a microphone.
/// </summary>
[Collection(FakeMicCollection.Name)]
public sealed class AlsaCaptureSource_Tests
{
    private readonly FakeMicFixture _mic;

    public AlsaCaptureSource_Tests(FakeMicFixture mic)
    {
        _mic = mic;
    }

    [Theory]
    [InlineData(160)]
    [InlineData(320)]
    [InlineData(1000)]
    public void Captures_the_file_exactly_in_order_one_period_per_read(int periodFrames)
    {
        using var source = Open(periodFrames, maxSamples: FakeMicFixture.PatternSamples);
        Assert.Equal(periodFrames, source.PeriodFrames);
        Assert.Equal(periodFrames * 4, source.BufferFrames);

        var captured = new List<short>();
        var readSizes = new List<int>();
        var buffer = new short[4096];
        int n;
        while ((n = source.Read(buffer, CancellationToken.None)) > 0)
        {
            readSizes.Add(n);
            captured.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        // No silence inserted at the start, nothing dropped, repeated or reordered.
        Assert.Equal(_mic.Pattern, captured.ToArray());
        var fullPeriods = FakeMicFixture.PatternSamples / periodFrames;
        Assert.All(readSizes.Take(fullPeriods), size => Assert.Equal(periodFrames, size));
        Assert.Equal(FakeMicFixture.PatternSamples % periodFrames, readSizes.Count > fullPeriods ? readSizes[^1] : 0);
        Assert.Equal(FakeMicFixture.PatternSamples, source.SamplesRead);
        Assert.Equal(0, source.OverrunCount);
        Assert.Equal(0, source.Read(buffer, CancellationToken.None));
    }

    [Fact]
    public void Delivers_the_file_in_small_destination_chunks()
    {
        using var source = Open(320, maxSamples: FakeMicFixture.PatternSamples);
        var captured = new short[FakeMicFixture.PatternSamples];
        var total = 0;
        var chunk = new short[7];
        int n;
        while ((n = source.Read(chunk, CancellationToken.None)) > 0)
        {
            Assert.InRange(n, 1, chunk.Length);
            chunk.AsSpan(0, n).CopyTo(captured.AsSpan(total));
            total += n;
        }

        Assert.Equal(FakeMicFixture.PatternSamples, total);
        Assert.Equal(_mic.Pattern, captured);
    }

    [Fact]
    public void Reads_silence_not_stale_audio_past_the_end_of_the_file_plugin_infile()
    {
        // Observed alsa-lib 1.2.8 behaviour: the file plugin reports full periods past its
        // infile's end and writes nothing; the source turns that into silence.
        using var source = Open(320, maxSamples: null);
        var buffer = new short[320];
        var total = 0;
        while (total < FakeMicFixture.PatternSamples)
        {
            total += source.Read(buffer, CancellationToken.None);
        }

        var lastPartial = FakeMicFixture.PatternSamples % 320;
        Assert.Equal(_mic.Pattern.AsSpan(FakeMicFixture.PatternSamples - lastPartial).ToArray(), buffer.AsSpan(0, lastPartial).ToArray());
        Assert.All(buffer.AsSpan(lastPartial).ToArray(), s => Assert.Equal(0, s));

        Array.Fill(buffer, (short)12345);
        Assert.Equal(320, source.Read(buffer, CancellationToken.None));
        Assert.All(buffer, s => Assert.Equal(0, s));
    }

    [Fact]
    public void Missing_device_gives_a_clear_error_with_alsa_text()
    {
        var ex = Assert.Throws<AlsaException>(() => new AlsaCaptureSource(new AlsaCaptureOptions { DeviceName = "no_such_mic" }));

        Assert.Equal("ALSA capture device 'no_such_mic' could not be opened: No such file or directory", ex.Message);
        Assert.Equal(-2, ex.ErrorCode);
    }

    [Theory]
    [InlineData("edgekws_usb")]
    [InlineData("edgekws_i2s")]
    public void Example_asound_conf_pcms_parse_and_fail_only_on_the_missing_card(string device)
    {
        // A typo in the example would give "Unknown PCM" (ENOENT) or "Unknown field" (EINVAL);
        // a config that parses resolves down to its hw: slave, absent here (ENODEV).
        var ex = Assert.Throws<AlsaException>(() => new AlsaCaptureSource(new AlsaCaptureOptions { DeviceName = device }));

        Assert.Equal(-19, ex.ErrorCode);
        Assert.Equal($"ALSA capture device '{device}' could not be opened: No such device", ex.Message);
    }

    [Fact]
    public void Missing_libasound_is_named_in_the_error()
    {
        var ex = Assert.Throws<AlsaException>(() => LibAsound.EnsureLoaded("libasound-not-installed.so.2"));

        Assert.Contains("ALSA library 'libasound-not-installed.so.2' could not be loaded", ex.Message);
        Assert.Contains("apt-get install libasound2", ex.Message);
    }

    [Fact]
    public void Cancelled_token_stops_the_read_and_loses_no_audio()
    {
        using var source = Open(320, maxSamples: FakeMicFixture.PatternSamples);
        var buffer = new short[320];
        Assert.Equal(320, source.Read(buffer, CancellationToken.None));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => source.Read(buffer, cts.Token));
        Assert.Equal(320, source.SamplesRead);

        Assert.Equal(320, source.Read(buffer, CancellationToken.None));
        Assert.Equal(_mic.Pattern.AsSpan(320, 320).ToArray(), buffer);
    }

    [Fact]
    public void Capture_loop_on_another_thread_stops_when_cancelled()
    {
        using var source = Open(320, maxSamples: null);
        using var cts = new CancellationTokenSource();
        long reads = 0;
        var loop = new Thread(() =>
        {
            var buffer = new short[320];
            try
            {
                while (true)
                {
                    source.Read(buffer, cts.Token);
                    Interlocked.Increment(ref reads);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        loop.Start();
        SpinWait.SpinUntil(() => Interlocked.Read(ref reads) > 10, TimeSpan.FromSeconds(60)); // liveness only
        cts.Cancel();

        Assert.True(loop.Join(TimeSpan.FromSeconds(60)), "capture loop did not stop after cancellation");
        Assert.True(Interlocked.Read(ref reads) > 10);
    }

    [Fact]
    public void File_plugin_cannot_be_made_to_overrun_by_a_slow_reader()
    {
        // Why the recovery tests below drive snd_pcm_recover directly: the file plugin's null
        // slave has no clock, so pausing for 4x the buffer length loses nothing.
        using var source = Open(160, maxSamples: 1600);
        var buffer = new short[160];
        Assert.Equal(160, source.Read(buffer, CancellationToken.None));
        Thread.Sleep(4 * source.BufferFrames * 1000 / source.SampleRateHz);

        Assert.Equal(160, source.Read(buffer, CancellationToken.None));
        Assert.Equal(_mic.Pattern.AsSpan(160, 160).ToArray(), buffer);
        Assert.Equal(0, source.OverrunCount);
    }

    [Fact]
    public void Overrun_is_recovered_counted_and_capture_continues()
    {
        using var source = Open(320, maxSamples: FakeMicFixture.PatternSamples);
        var buffer = new short[320];
        source.Read(buffer, CancellationToken.None);
        Assert.Equal(LibAsound.StateRunning, source.State);

        source.HandleError(-LibAsound.EPIPE, "read");

        Assert.Equal(1, source.OverrunCount);
        Assert.Equal(LibAsound.StatePrepared, source.State); // snd_pcm_recover re-prepared the PCM
        Assert.Equal(320, source.Read(buffer, CancellationToken.None));
        Assert.Equal(_mic.Pattern.AsSpan(320, 320).ToArray(), buffer);
        Assert.Equal(LibAsound.StateRunning, source.State);
    }

    [Fact]
    public void Suspend_is_recovered_counted_and_capture_continues()
    {
        using var source = Open(320, maxSamples: FakeMicFixture.PatternSamples);
        var buffer = new short[320];
        source.Read(buffer, CancellationToken.None);

        source.HandleError(-LibAsound.ESTRPIPE, "read");

        Assert.Equal(1, source.SuspendCount);
        Assert.Equal(0, source.OverrunCount);
        Assert.Equal(320, source.Read(buffer, CancellationToken.None));
        Assert.Equal(_mic.Pattern.AsSpan(320, 320).ToArray(), buffer);
    }

    [Fact]
    public void Unrecoverable_error_names_the_device_and_alsa_text()
    {
        using var source = Open(320, maxSamples: null);

        var ex = Assert.Throws<AlsaException>(() => source.HandleError(-5, "read"));

        Assert.Equal($"ALSA capture device '{FakeMicFixture.PatternPcm}' read failed: Input/output error", ex.Message);
        Assert.Equal(0, source.OverrunCount);
    }

    [Fact]
    public void Reads_allocate_nothing_after_construction()
    {
        using var source = Open(320, maxSamples: null);
        var buffer = new short[320];
        for (var i = 0; i < 5; i++)
        {
            source.Read(buffer, CancellationToken.None);
        }

        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (var i = 0; i < 200; i++)
            {
                source.Read(buffer, CancellationToken.None);
            }
        });
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(320, 1)]
    [InlineData(320, 65)]
    public void Rejects_period_or_buffer_out_of_range(int periodFrames, int bufferPeriods)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AlsaCaptureSource(new AlsaCaptureOptions
        {
            DeviceName = FakeMicFixture.PatternPcm,
            PeriodFrames = periodFrames,
            BufferPeriods = bufferPeriods,
        }));
        Assert.Contains("ALSA", ex.Message);
    }

    [Fact]
    public void Reports_name_rate_and_refuses_use_after_dispose()
    {
        var source = Open(320, maxSamples: null);
        Assert.Equal("alsa:" + FakeMicFixture.PatternPcm, source.Name);
        Assert.Equal(16000, source.SampleRateHz);

        source.Dispose();
        source.Dispose();

        Assert.Throws<ObjectDisposedException>(() => source.Read(new short[1], CancellationToken.None));
    }

    [Fact]
    public void Rejects_an_empty_destination()
    {
        using var source = Open(320, maxSamples: null);
        Assert.Throws<ArgumentException>(() => source.Read(Span<short>.Empty, CancellationToken.None));
    }

    private static AlsaCaptureSource Open(int periodFrames, long? maxSamples) => new(new AlsaCaptureOptions
    {
        DeviceName = FakeMicFixture.PatternPcm,
        PeriodFrames = periodFrames,
        BufferPeriods = 4,
        MaxSamples = maxSamples,
    });
}

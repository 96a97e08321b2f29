using EdgeKws.Device.Audio;
using EdgeKws.Device.Enrollment;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.TestSupport;

namespace EdgeKws.Device.Tests.Enrollment;

[Collection(GeneratedTakesCollection.Name)]
public sealed class LiveTakeRecorder_Tests(GeneratedTakes takes)
{
    [Fact]
    public void Cuts_five_takes_from_one_stream_at_the_pauses_and_each_passes_the_checks()
    {
        using var source = new StdinPcmSource(File.OpenRead(takes.PathOf("takes5.raw")), "takes5.raw");
        var recorder = new LiveTakeRecorder(source);
        var session = new EnrollmentSession(new EnrollmentPolicy());
        int levels = 0;
        for (int k = 0; k < 5; k++)
        {
            TakeCapture c = recorder.Record(session.TakeBuffer, _ => levels++, CancellationToken.None);
            Assert.True(c.HeardSpeech && !c.EndOfStream && !c.HitCapacity, c.ToString());
            // Pre-roll (<= 1 s) + speech (~550 ms) + hangover 200 ms + tail 300 ms: well under the 4 s buffer.
            Assert.InRange(c.SampleCount, 16_000, 32_000);
            TakeResult r = session.SubmitBufferedTake(c.SampleCount);
            Assert.True(r.Accepted, string.Join("; ", r.Failures.Select(f => f.Reason)));
            // The pre-roll kept 500-1000 ms of the noise before the onset (the generated lead-ins are 450-650 ms).
            Assert.InRange(r.Figures.SpeechStartMs!.Value, 400, 1000);
        }

        Assert.True(session.IsComplete);
        Assert.True(levels > 100, $"{levels} level windows reported");
        TakeCapture end = recorder.Record(session.TakeBuffer, null, CancellationToken.None);
        Assert.True(end.EndOfStream && !end.HeardSpeech);
    }

    [Fact]
    public void Gives_up_after_the_listen_timeout_without_speech_keeping_only_the_pre_roll()
    {
        using var source = new StdinPcmSource(new MemoryStream(new byte[16_000 * 2 * 20]), "silence");
        var recorder = new LiveTakeRecorder(source, new LiveTakeOptions { ListenTimeoutMs = 3000, PreRollMs = 500 });
        var buffer = new short[64_000];
        TakeCapture c = recorder.Record(buffer, null, CancellationToken.None);
        Assert.False(c.HeardSpeech);
        Assert.False(c.EndOfStream);
        Assert.InRange(c.SampleCount, 8_000, 16_000);
        Assert.Equal(48_000, source.SamplesRead);
    }

    [Fact]
    public void Records_a_take_without_allocating()
    {
        byte[] raw = File.ReadAllBytes(takes.PathOf("takes5.raw"));
        var buffer = new short[64_000];
        double sum = 0;
        Action<LiveLevel> onLevel = l => sum += l.RmsDbFs;
        StdinPcmSource source = null!;
        LiveTakeRecorder recorder = null!;
        TakeCapture c = default;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                source?.Dispose();
                source = new StdinPcmSource(new MemoryStream(raw), "memory");
                recorder = new LiveTakeRecorder(source);
                recorder.Record(buffer, onLevel, CancellationToken.None); // warm-up: the first take
            },
            measured: () => c = recorder.Record(buffer, onLevel, CancellationToken.None));
        using StdinPcmSource lastSource = source;
        Assert.True(c.HeardSpeech);
        Assert.Equal(0, allocated);
        Assert.True(sum < 0);
    }
}

using System.Collections.Concurrent;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Device.Tests.Uplink;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Contracts;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Listening;

/// <summary>
/// The whole device path with the broker taken away in the middle of detection: audio through a pipe
/// (the test controls when each burst is "spoken"), the real front end and model, the SQLite outbox, the
/// MQTT uplink on its own task, and a real broker (embedded MQTTnet, then Mosquitto) with a gateway-like
/// subscriber.
/// </summary>
public sealed class ListeningPipeline_BrokerOutage_Tests(ITestOutputHelper output) : IDisposable
{
    private const string DeviceId = "dev-pipe"; // "dev-" lets the embedded broker hold the device off after a restart
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120); // liveness only
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Delivers_every_message_once_in_sequence_order_when_the_embedded_broker_stops_during_detection()
    {
        int port = UplinkTestKit.FreePort();
        EmbeddedBroker broker = await EmbeddedBroker.StartAsync(port);
        var subscriber = new RecordingSubscriber(port);
        try
        {
            await subscriber.ConnectAsync(Timeout);
            await RunOutageAsync(port, subscriber,
                stop: async () => await broker.DisposeAsync(),
                restart: async () =>
                {
                    // The gateway's subscriber is back before the device is let in (its session lived in memory).
                    broker = await EmbeddedBroker.StartAsync(port, admitDevice: false);
                    await subscriber.ReconnectAsync(Timeout);
                    broker.AdmitDevice = true;
                });
        }
        finally
        {
            await subscriber.DisposeAsync();
            await broker.DisposeAsync();
        }
    }

    [Fact]
    public async Task Delivers_every_message_once_in_sequence_order_when_mosquitto_stops_during_detection()
    {
        await using MosquittoBroker broker = MosquittoBroker.Create("allow_anonymous true");
        await broker.StartAsync();
        var subscriber = new RecordingSubscriber(broker.Port);
        try
        {
            await subscriber.ConnectAsync(Timeout);
            await RunOutageAsync(broker.Port, subscriber,
                stop: broker.TerminateAsync,
                restart: async () =>
                {
                    await broker.StartAsync();
                    await subscriber.ReconnectAsync(Timeout); // persistent session: Mosquitto kept it on disk
                });
        }
        finally
        {
            await subscriber.DisposeAsync();
        }
    }

    private volatile string _phase = "start";
    private Func<string> _state = () => "";

    private async Task RunOutageAsync(int port, RecordingSubscriber subscriber, Func<Task> stop, Func<Task> restart)
    {
        try
        {
            // On the thread pool: xUnit's test context runs continuations on as many threads as there are cores,
            // which the suite's long synchronous tests can occupy for minutes; this test's waits must not queue behind them.
            await Task.Run(() => RunOutageCoreAsync(port, subscriber, stop, restart)).WaitAsync(TimeSpan.FromSeconds(400));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"stuck in phase '{_phase}': {_state()}", ex);
        }
    }

    private async Task RunOutageCoreAsync(int port, RecordingSubscriber subscriber, Func<Task> stop, Func<Task> restart)
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        using var source = new StdinPcmSource(new AnonymousPipeClientStream(PipeDirection.In, pipe.ClientSafePipeHandle), "pipe");
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var detector = ListeningTestKit.CreateDetector();
        var accepted = new ConcurrentQueue<long>();
        var queue = new OutboxUplinkQueue(outbox, Shared.Features.MfccConfig.Default.FeatureConfigHash);
        await using var uplink = new MqttUplink(UplinkTestKit.FastOptions(port, DeviceId), queue);
        var pipeline = new ListeningPipeline(source, detector, outbox,
            ListeningTestKit.Options(DeviceId, heartbeatSeconds: 3, enqueued: (_, r) =>
            {
                if (r.IsAccepted)
                {
                    accepted.Enqueue(r.Sequence);
                    uplink.NotifyEnqueued();
                }
            }));
        _state = () => $"pipeline {pipeline.Stats}; uplink {uplink.State} {uplink.Stats} {uplink.LastError}";
        uplink.Start();
        Task audioThread = Task.Factory.StartNew(() => pipeline.Run(CancellationToken.None), TaskCreationOptions.LongRunning);
        try
        {
            await OutageAsync(pipe, pipeline, outbox, uplink, accepted, audioThread, subscriber, stop, restart);
        }
        finally
        {
            // On a failure, end the audio loop before the detector, outbox and source it uses are disposed.
            pipe.Dispose();
            await audioThread.WaitAsync(Timeout);
        }
    }

    private async Task OutageAsync(AnonymousPipeServerStream pipe, ListeningPipeline pipeline, OutboxStore outbox, MqttUplink uplink,
        ConcurrentQueue<long> accepted, Task audioThread, RecordingSubscriber subscriber, Func<Task> stop, Func<Task> restart)
    {

        // Phase 1: broker up. Four bursts, 2 s apart.
        _phase = "speak 1";
        await SpeakAsync(pipe, 4, seed: 1, audioThread);
        _phase = "wait for 4 detections at the broker";
        await UplinkTestKit.WaitUntilAsync(() => Detections(subscriber) >= 4, Timeout, () => $"{Detections(subscriber)} detections at the broker; uplink {uplink.LastError}");
        // Everything sent so far has reached the subscriber before the broker goes: a message the broker acknowledged but had not
        // yet forwarded would die with its in-memory session (a broker loss this test is not about; under load it lost one of 40).
        _phase = "wait for phase 1 at the subscriber";
        await UplinkTestKit.WaitUntilAsync(() => outbox.GetStats().TotalCount == 0 && subscriber.DistinctSequenceCount >= accepted.Count, Timeout,
            () => $"outbox {outbox.GetStats().TotalCount} left, subscriber got {subscriber.DistinctSequenceCount}/{accepted.Count}");

        // Phase 2: broker gone. Detection goes on; messages wait in the outbox.
        _phase = "stop broker";
        await stop();
        _phase = "speak 2";
        await SpeakAsync(pipe, 4, seed: 2, audioThread);
        _phase = "wait for detections during the outage";
        await UplinkTestKit.WaitUntilAsync(() => pipeline.Stats.Detections >= 8, Timeout, () => $"{pipeline.Stats.Detections} detections with the broker down");
        _phase = "wait for the uplink to notice the outage";
        await UplinkTestKit.WaitUntilAsync(() => uplink.State != UplinkState.Connected, Timeout, () => "the uplink to notice the outage");
        // The detections of the outage are stored (by the pipeline's writer thread) and wait there.
        _phase = "wait for the outage's detections in the outbox";
        await UplinkTestKit.WaitUntilAsync(() => outbox.GetStats().For(OutboxMessageClass.Detection).Count >= 4, Timeout,
            () => $"{outbox.GetStats().For(OutboxMessageClass.Detection).Count} detections waiting in the outbox");
        long waiting = outbox.GetStats().TotalCount;

        // Phase 3: broker back; more bursts; then the audio ends.
        _phase = "restart broker";
        await restart();
        _phase = "speak 3";
        await SpeakAsync(pipe, 4, seed: 3, audioThread);
        pipe.Dispose();
        _phase = "audio end";
        await audioThread.WaitAsync(Timeout);
        _phase = "drain";

        await UplinkTestKit.WaitUntilAsync(() => outbox.GetStats().TotalCount == 0 && subscriber.DistinctSequenceCount >= accepted.Count, Timeout,
            () => $"outbox {outbox.GetStats().TotalCount} left, broker got {subscriber.DistinctSequenceCount}/{accepted.Count}; uplink {uplink.State} {uplink.LastError}");

        Assert.Equal(12, pipeline.Stats.Detections);
        int n = accepted.Count;
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), accepted.Order()); // a fresh outbox numbers 1..n
        int duplicates = UplinkTestKit.AssertCompleteInOrder(subscriber.Sequences, n);
        Assert.Equal(12, Detections(subscriber));
        Assert.All(subscriber.Messages.Where(m => m.Kind is "detection" or "clip-features" or "drift"),
            m => Assert.Equal(pipeline.FeatureConfigHash, m.ConfigHash));
        Assert.All(subscriber.Messages.Where(m => m.Kind is "heartbeat"), m => Assert.Null(m.ConfigHash));
        output.WriteLine($"{n} messages ({pipeline.Stats.Heartbeats} heartbeats, {pipeline.Stats.Sketches} sketches, 12 detections + clips); "
            + $"{waiting} waited in the outbox during the outage; {duplicates} duplicate(s) before de-dup; uplink {uplink.Stats}");
        Assert.True(uplink.Stats.Connects >= 2);
        _phase = "dispose";
    }

    private static int Detections(RecordingSubscriber s) =>
        s.Messages.Where(m => m.Kind == "detection" && m.Sequence is not null).Select(m => m.Sequence).Distinct().Count();

    /// <summary>Writes 2 s of noise per burst, each with a burst at 0.7 s, into the pipe (the pipeline reads as it arrives).</summary>
    private static async Task SpeakAsync(AnonymousPipeServerStream pipe, int bursts, int seed, Task audioThread)
    {
        short[] audio = ListeningTestKit.Synthesize(2.0 * bursts, ListeningTestKit.Starts(bursts, first: 0.7, every: 2.0), seed);
        byte[] bytes = MemoryMarshal.AsBytes(audio.AsSpan()).ToArray();
        Task write = pipe.WriteAsync(bytes).AsTask();
        Task first = await Task.WhenAny(write, audioThread);
        if (first == audioThread)
        {
            await audioThread; // surfaces the audio thread's exception
            Assert.Fail("the audio loop ended while audio was still being written");
        }
        await write;
    }
}

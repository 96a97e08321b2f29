using System.Diagnostics;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.Shared.Features;
using EdgeKws.TestSupport;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Listening;

/// <summary>The always-on loop with real parts: WAV replay, the real MFCC front end, the tone1k ONNX model, a real SQLite outbox.</summary>
public sealed class ListeningPipeline_Tests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Detects_each_tone_burst_of_a_replayed_wav_at_its_known_time()
    {
        double[] starts = [1.5, 4.0, 6.2, 9.0, 11.7, 14.1];
        string wav = ListeningTestKit.WriteWav(_dir.File("bursts.wav"), ListeningTestKit.Synthesize(16, starts));
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        using var detector = ListeningTestKit.CreateDetector();
        var sink = new RecordingSink();
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(), sink);

        pipeline.Run(CancellationToken.None);

        Assert.True(pipeline.Stats.SourceEnded);
        Assert.Equal(16 * 16000, pipeline.Stats.SamplesProcessed);
        Assert.Equal(starts.Length, sink.Detections.Count);
        for (int i = 0; i < starts.Length; i++)
        {
            double burstEnd = starts[i] + ListeningTestKit.BurstSeconds;
            double fired = sink.Detections[i].KeywordEndSample / 16000.0;
            output.WriteLine($"burst ends {burstEnd:F3} s, detector decided at {fired:F3} s (+{(fired - burstEnd) * 1000:F0} ms of audio)");
            // The model end-points: it decides 5-11 frames (plus the 15 ms window overhang) after the burst ends.
            Assert.InRange(fired - burstEnd, 0.0, 0.2);
        }

        // Every detection went to the outbox as a wire-valid report, with its clip (features: no consent).
        var messages = outbox.PeekBatch(1000);
        var reports = messages.Where(m => m.Class == OutboxMessageClass.Detection).ToList();
        Assert.Equal(starts.Length, reports.Count);
        for (int i = 0; i < reports.Count; i++)
        {
            Assert.True(WireJson.TryDeserialize(reports[i].Payload, WireJsonContext.Default.DetectionReport, out DetectionReport? report, out string why), why);
            Assert.True(report.TryValidate(out why), why);
            Assert.Equal(sink.Detections[i].KeywordEndSample * 1000 / 16000, report.StreamOffsetMs);
            Assert.Equal(pipeline.FeatureConfigHash, report.FeatureConfigHash);
            Assert.Equal(sink.Detections[i].ClipId, report.ClipId);
        }
        Assert.Equal(starts.Length, messages.Count(m => m.Class == OutboxMessageClass.ClipFeatures));
        Assert.Equal(0, messages.Count(m => m.Class == OutboxMessageClass.ClipAudio));
        Assert.Equal([AgentStatus.Listening, .. Enumerable.Repeat(AgentStatus.Detected, starts.Length), AgentStatus.Stopped], sink.Statuses);
    }

    [Fact]
    public void Raises_no_detection_on_noise_or_a_sustained_tone()
    {
        short[] audio = ListeningTestKit.Synthesize(12, []);
        // A 4 s tone is not a keyword: the model wants a burst that ends, with nothing hot before it.
        for (int i = 3 * 16000; i < 7 * 16000; i++)
        {
            audio[i] = (short)Math.Clamp(audio[i] + (0.3 * 32767 * Math.Sin(2 * Math.PI * 1000 * i / 16000.0)), short.MinValue, short.MaxValue);
        }
        string wav = ListeningTestKit.WriteWav(_dir.File("noise.wav"), audio);
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        using var detector = ListeningTestKit.CreateDetector();
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options());

        pipeline.Run(CancellationToken.None);

        Assert.Equal(0, pipeline.Stats.Detections);
        Assert.True(detector.InferenceCount > 200);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sends_raw_clip_audio_only_with_consent_and_the_clip_features_always(bool consent)
    {
        double[] starts = [2.0, 5.0];
        short[] audio = ListeningTestKit.Synthesize(8, starts);
        string wav = ListeningTestKit.WriteWav(_dir.File("c.wav"), audio);
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        using var detector = ListeningTestKit.CreateDetector();
        var sink = new RecordingSink();
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(consent: consent), sink);

        pipeline.Run(CancellationToken.None);

        var messages = outbox.PeekBatch(1000);
        var audioClips = messages.Where(m => m.Class == OutboxMessageClass.ClipAudio).ToList();
        var featureClips = messages.Where(m => m.Class == OutboxMessageClass.ClipFeatures).ToList();
        Assert.Equal(2, sink.Detections.Count);
        Assert.Equal(2, featureClips.Count);
        if (consent)
        {
            Assert.Equal(2, audioClips.Count);
            for (int i = 0; i < 2; i++)
            {
                Assert.True(ClipAudio.TryReadHeader(audioClips[i].Payload, out ClipHeader h, out string why), why);
                Assert.True(h.ConsentGranted);
                Assert.Equal(sink.Detections[i].ClipId, h.ClipId);
                Assert.True(h.ConfigHash.Matches(pipeline.FeatureConfigHash));
                Assert.Equal(24000, h.FrameCount); // 1000 ms pre + 500 ms post trigger
                var samples = new short[h.FrameCount];
                ClipAudio.ReadSamples(audioClips[i].Payload, h, samples);
                long start = sink.Detections[i].KeywordEndSample - 16000;
                Assert.Equal(audio.AsSpan((int)start, 24000).ToArray(), samples); // exactly the stream's samples
                // The features of the same clip are what the gateway's recomputation from these samples gives, bit for bit.
                Assert.True(ClipFeatures.TryReadHeader(featureClips[i].Payload, out ClipHeader fh, out why), why);
                Assert.Equal(h.ClipId, fh.ClipId);
                var sent = new float[fh.FrameCount * fh.ValuesPerFrame];
                Assert.True(ClipFeatures.TryReadFeatures(featureClips[i].Payload, fh, sent, out why), why);
                var extractor = new MfccExtractor(MfccConfig.Default);
                var recomputed = new float[extractor.FramesForNextPush(samples.Length) * 13];
                extractor.Push(samples, recomputed);
                Assert.Equal(recomputed, sent);
            }
        }
        else
        {
            Assert.Empty(audioClips); // no raw audio leaves the device without consent
            foreach (var clip in featureClips)
            {
                Assert.True(ClipFeatures.TryReadHeader(clip.Payload, out ClipHeader h, out string why), why);
                Assert.False(h.ConsentGranted);
                Assert.Equal(13, h.ValuesPerFrame);
                Assert.Equal(148, h.FrameCount); // frames of 24000 samples: 1 + (24000 - 400) / 160
            }
        }
    }

    [Fact]
    public void Sends_heartbeats_with_listening_seconds_and_drift_sketches_at_the_audio_cadence()
    {
        double[] starts = [3.0, 13.0, 23.0];
        string wav = ListeningTestKit.WriteWav(_dir.File("hb.wav"), ListeningTestKit.Synthesize(30, starts));
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        using var detector = ListeningTestKit.CreateDetector();
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(heartbeatSeconds: 10));

        pipeline.Run(CancellationToken.None);

        var messages = outbox.PeekBatch(1000);
        var heartbeats = messages.Where(m => m.Class == OutboxMessageClass.Heartbeat)
            .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? h, out _) ? h : null).ToList();
        Assert.Equal(3, heartbeats.Count);
        Assert.All(heartbeats, h => Assert.True(h!.TryValidate(out string why), why));
        Assert.Equal(30.0, heartbeats.Sum(h => h!.ListeningSeconds), 6);
        Assert.Equal(3, heartbeats.Sum(h => h!.Detections));
        Assert.All(heartbeats, h => Assert.Equal(detector.ModelVersion, h!.ModelVersion));
        Assert.All(heartbeats, h => Assert.True(h!.RssBytes > 1_000_000));

        var sketches = messages.Where(m => m.Class == OutboxMessageClass.Sketch)
            .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.DriftSketch, out DriftSketch? s, out _) ? s : null).ToList();
        Assert.Equal(3, sketches.Count);
        Assert.All(sketches, s => Assert.True(s!.TryValidate(out string why), why));
        // One MFCC frame per 10 ms hop: 2998 frames in 30 s, split over the three windows.
        Assert.Equal(2998, sketches.Sum(s => s!.MfccFrameCount()));
        Assert.Equal(30 * 20, sketches.Sum(s => s!.RmsDbfsCounts.Sum())); // 50 ms level windows
        Assert.True(sketches.Sum(s => s!.ScoreCounts.Sum()) > 500);     // one score per inference (stride 5 frames)
    }

    [Fact]
    public void Keeps_detecting_and_applies_the_eviction_policy_when_the_quota_is_full()
    {
        double[] starts = ListeningTestKit.Starts(20, first: 1.5, every: 1.6);
        string wav = ListeningTestKit.WriteWav(_dir.File("q.wav"), ListeningTestKit.Synthesize(34, starts));
        // 1 MiB of disk: 352 KiB of messages (OutboxBudget); 20 raw clips of 48 KB do not fit, and the broker is away.
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path, quotaBytes: 1L << 20);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        using var detector = ListeningTestKit.CreateDetector();
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(consent: true, heartbeatSeconds: 5));

        pipeline.Run(CancellationToken.None);

        ListeningPipelineStats s = pipeline.Stats;
        Assert.True(s.SourceEnded);
        Assert.Equal(20, s.Detections); // detection never stopped
        OutboxStats stats = outbox.GetStats();
        Assert.True(stats.TotalBytes <= outbox.DataQuotaBytes);
        Assert.Equal(20, stats.For(OutboxMessageClass.Detection).Count);            // no detection evicted
        Assert.Equal(0, stats.For(OutboxMessageClass.Detection).EvictedCount);
        // Raw clips go first: with consent every detection sends audio and features; old audio was evicted for new
        // messages, while every feature clip (a sixth of the size) is still held.
        Assert.True(stats.For(OutboxMessageClass.ClipAudio).EvictedCount >= 5);
        Assert.Equal(20, stats.For(OutboxMessageClass.ClipFeatures).Count);
        Assert.True(stats.For(OutboxMessageClass.Heartbeat).Count >= 1);
        output.WriteLine($"stored {stats.TotalCount} messages / {stats.TotalBytes} B; clips evicted {stats.For(OutboxMessageClass.ClipAudio).EvictedCount}, "
            + $"refused {s.EnqueueRefused}; heartbeats stored {stats.For(OutboxMessageClass.Heartbeat).Count}");
        List<Heartbeat> heartbeats = outbox.PeekBatch(1000).Where(m => m.Class == OutboxMessageClass.Heartbeat)
            .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? h, out _) ? h : null!).ToList();
        // The heartbeats report the evictions of their interval, and cumulatively per class.
        Assert.True(heartbeats.Sum(h => h.OutboxEvictedCount) > 0);
        OutboxClassTotals audioTotals = heartbeats[^1].Totals!.Outbox.ClipAudio;
        Assert.True(audioTotals.Evicted > 0 && audioTotals.Evicted <= stats.For(OutboxMessageClass.ClipAudio).EvictedCount);
        Assert.Equal(stats.For(OutboxMessageClass.ClipAudio).WrittenCount, audioTotals.Written + (20 - heartbeats[^1].Totals!.Detections));
    }

    [Fact]
    public void Heartbeats_carry_totals_since_the_first_start_that_survive_restarts_so_lost_heartbeats_lose_no_listening_time()
    {
        string first = ListeningTestKit.WriteWav(_dir.File("t1.wav"), ListeningTestKit.Synthesize(30, [3.0, 13.0, 23.0]));
        string second = ListeningTestKit.WriteWav(_dir.File("t2.wav"), ListeningTestKit.Synthesize(20, [5.0]));
        var heartbeats = new List<Heartbeat>();
        string epoch = "";
        for (int run = 0; run < 2; run++)
        {
            // Two agent runs on the same state: the second continues the first one's totals.
            using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
            using var source = new WavReplaySource(run == 0 ? first : second, new WavReplayOptions { RealTime = false });
            using var detector = ListeningTestKit.CreateDetector();
            new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(heartbeatSeconds: 10)).Run(CancellationToken.None);
            IReadOnlyList<OutboxMessage> batch = outbox.PeekBatch(1000);
            heartbeats.AddRange(batch.Where(m => m.Class == OutboxMessageClass.Heartbeat)
                .Select(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? h, out _) ? h : null!));
            outbox.Acknowledge(batch.Select(m => m.Sequence).ToArray()); // delivered
            Assert.Equal(run == 0 ? 30.0 : 50.0, outbox.DeviceTotals.ListeningSeconds, 6); // persisted with the messages
            Assert.True(run == 0 || outbox.TotalsEpoch == epoch);
            epoch = outbox.TotalsEpoch;
        }

        Assert.Equal(5, heartbeats.Count);
        Assert.All(heartbeats, h => Assert.True(h.TryValidate(out string why), why));
        Assert.Equal(epoch, Assert.Single(heartbeats.Select(h => h.Totals!.Epoch).Distinct()));
        Assert.Equal([10.0, 20.0, 30.0, 40.0, 50.0], heartbeats.Select(h => Math.Round(h.Totals!.ListeningSeconds, 6)));
        Assert.Equal([1L, 2, 3, 4, 4], heartbeats.Select(h => h.Totals!.Detections));
        Assert.Equal(heartbeats[^1].Totals!.Detections, heartbeats[^1].Totals!.Outbox.Detection.Written);

        // Whichever heartbeats are lost (evicted, dropped), differences between the ones that arrive add up to the same
        // listening time; per-interval counts lose the lost heartbeats' intervals.
        foreach (int[] arrived in new[] { new[] { 0, 1, 2, 3, 4 }, new[] { 1, 4 }, new[] { 4 } })
        {
            double fromTotals = 0, previous = 0;
            foreach (int i in arrived)
            {
                fromTotals += heartbeats[i].Totals!.ListeningSeconds - previous;
                previous = heartbeats[i].Totals!.ListeningSeconds;
            }
            Assert.Equal(50.0, fromTotals, 6);
        }
        Assert.Equal(20.0, heartbeats[1].ListeningSeconds + heartbeats[4].ListeningSeconds, 6);
    }

    [Fact]
    public void Allocates_nothing_per_audio_second_in_the_mfcc_and_detector_path_in_steady_state()
    {
        const int seconds = 60;
        string wav = ListeningTestKit.WriteWav(_dir.File("alloc.wav"), ListeningTestKit.Synthesize(seconds + 5, []));
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        var block = new short[320];
        WavReplaySource source = null!;
        KeywordDetector detector = null!;
        ListeningPipeline pipeline = null!;
        long inferencesBefore = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                source?.Dispose();
                detector?.Dispose();
                source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
                detector = ListeningTestKit.CreateDetector();
                pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options());
                // Warm-up: 5 s (ONNX Runtime's first runs, lazy statics).
                for (int i = 0; i < 5 * 50; i++)
                {
                    int n = source.Read(block, CancellationToken.None);
                    pipeline.ProcessBlock(block.AsSpan(0, n), Stopwatch.GetTimestamp());
                }
                inferencesBefore = detector.InferenceCount;
            },
            measured: () =>
            {
                for (int i = 0; i < seconds * 50; i++)
                {
                    int n = source.Read(block, CancellationToken.None);
                    pipeline.ProcessBlock(block.AsSpan(0, n), Stopwatch.GetTimestamp());
                }
            });
        using WavReplaySource lastSource = source;
        using KeywordDetector lastDetector = detector;

        output.WriteLine($"{allocated} B allocated over {seconds} s of audio ({detector.InferenceCount - inferencesBefore} inferences)");
        Assert.Equal(seconds * 20 - 1, detector.InferenceCount - inferencesBefore, 1.0); // stride 5 frames = 20 inferences/s
        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task Swaps_the_detector_between_blocks_and_hands_back_the_old_one()
    {
        double[] starts = [2.0, 6.0];
        string wav = ListeningTestKit.WriteWav(_dir.File("swap.wav"), ListeningTestKit.Synthesize(9, starts));
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        var first = ListeningTestKit.CreateDetector();
        var second = ListeningTestKit.CreateDetector();
        var sink = new RecordingSink();
        ListeningPipeline? pipeline = null;
        Task<KeywordDetector>? swap = null;
        sink.OnDetected = _ => swap ??= pipeline!.SwapDetectorAsync(second); // swap right after the first detection
        pipeline = new ListeningPipeline(source, first, outbox, ListeningTestKit.Options(), sink);

        pipeline.Run(CancellationToken.None);

        Assert.NotNull(swap);
        Assert.Same(first, await swap);
        Assert.Same(second, pipeline.Detector);
        Assert.Equal(2, sink.Detections.Count); // the new detector found the second burst, at its stream time
        Assert.InRange(sink.Detections[1].KeywordEndSample / 16000.0 - 6.5, 0.0, 0.2);
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public void Muted_reads_and_discards_audio_without_detection_or_listening_seconds()
    {
        double[] starts = [1.5, 4.0, 6.5, 9.0, 11.5, 14.0];
        string wav = ListeningTestKit.WriteWav(_dir.File("mute.wav"), ListeningTestKit.Synthesize(16, starts));
        using var outbox = ListeningTestKit.OpenOutbox(_dir.Path);
        using var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false });
        using var detector = ListeningTestKit.CreateDetector();
        var sink = new RecordingSink();
        var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(heartbeatSeconds: 5), sink);
        // The owner presses mute right after the first detection.
        sink.OnDetected = _ => pipeline.Muted = true;

        pipeline.Run(CancellationToken.None);

        Assert.Single(sink.Detections);
        Assert.True(pipeline.Stats.SourceEnded);
        // Every sample was read; only the ones before the mute went through the front end.
        Assert.Equal(16.0, pipeline.Stats.ListeningSeconds + pipeline.MutedSeconds, 6);
        Assert.InRange(pipeline.Stats.ListeningSeconds, 2.0, 2.2);
        var messages = outbox.PeekBatch(1000);
        // The first detection's clip still leaves, cut at the mute (no audio from after it).
        Assert.Single(messages, m => m.Class == OutboxMessageClass.ClipFeatures);
        double heartbeatListening = messages.Where(m => m.Class == OutboxMessageClass.Heartbeat)
            .Sum(m => WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.Heartbeat, out Heartbeat? h, out _) ? h.ListeningSeconds : double.NaN);
        Assert.Equal(pipeline.Stats.ListeningSeconds, heartbeatListening, 3);
    }
}

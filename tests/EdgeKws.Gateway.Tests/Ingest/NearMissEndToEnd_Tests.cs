using System.Text.Json;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Listening;
using EdgeKws.Device.Uplink;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;

namespace EdgeKws.Gateway.Tests.Ingest;

/// <summary>
/// Near misses end to end with real parts: WAV replay, the real MFCC front end and the tone1k ONNX model in the listening pipeline,
/// the SQLite outbox, the MQTT uplink, the gateway's embedded broker, ingest, SQLite store, labeling worker and HTTP API; then a reviewer's
/// decisions and the field dataset export (<c>POST /api/review/datasets</c>) with the real MFCC front end.
/// </summary>
public sealed class NearMissEndToEnd_Tests
{
    private const string Device = "dev-nearmiss";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180); // liveness only

    [Fact]
    public async Task A_near_miss_travels_pipeline_outbox_mqtt_to_the_gateway_in_its_own_class_and_into_a_field_dataset_as_a_missed_keyword()
    {
        // One loud burst (a detection) and three quieter ones whose score peaks in the band below the threshold (near misses).
        // The quiet bursts are one 4 s segment repeated (frame-aligned with the model's stride), so they score alike: the model's score
        // rises steeply with the tone's level and noise, and the band must hold all three.
        double[] quietStarts = [5.0, 9.0, 13.0];
        short[] loud = ListeningTestKit.Synthesize(4, [2.0]);
        short[] tail = ListeningTestKit.Synthesize(4, [], seed: 3);
        short[] Build(float quietAmplitude)
        {
            short[] segment = ListeningTestKit.Synthesize(4, [1.0], seed: 11, amplitude: quietAmplitude);
            return [.. loud, .. segment, .. segment, .. segment, .. tail];
        }
        (float quiet, float[] peaks, float threshold) = ListeningTestKit.NearMissAmplitude(Build, quietStarts);
        short[] samples = Build(quiet);
        using var dir = new TempDirectory();
        string wav = ListeningTestKit.WriteWav(Path.Combine(dir.Path, "near-miss.wav"), samples);

        // No wake phrase configured and no keyword in the messages: the worker cannot align, so it needs no pocketsphinx.
        string datasets = Path.Combine(dir.Path, "datasets");
        await using WebGateway g = await WebGateway.StartAsync([Device], "--Gateway:Labeling:Enabled=true", "--Gateway:Labeling:Interval=00:00:00.200",
            "--Gateway:Labeling:FeatureOnlyGrace=00:00:01", "--Gateway:Labeling:DatasetDirectory=" + datasets);

        ListeningPipelineStats stats;
        var sink = new RecordingSink();
        using (OutboxStore outbox = ListeningTestKit.OpenOutbox(dir.Path))
        {
            string hash;
            using (KeywordDetector detector = ListeningTestKit.CreateDetector())
            using (var source = new WavReplaySource(wav, new WavReplayOptions { RealTime = false }))
            {
                var pipeline = new ListeningPipeline(source, detector, outbox, ListeningTestKit.Options(Device, consent: true), sink);
                pipeline.Run(CancellationToken.None);
                stats = pipeline.Stats;
                hash = pipeline.FeatureConfigHash;
            }
            string tried = $"quiet amplitude {quiet}, peaks {string.Join("/", peaks)}, threshold {threshold}; stats {stats}";
            Assert.True((1L, 3L, 0L, 3L) == (stats.Detections, stats.NearMisses, stats.NearMissesRateLimited, stats.NearMissesSent), tried);
            Assert.Single(sink.Detections); // the LED and the status sink see the detection only
            Assert.Equal(1, sink.Statuses.Count(s => s == AgentStatus.Detected));
            Assert.Equal((1L, 1L), (stats.ClipsAudio, stats.ClipsFeatures)); // trigger clips: the detection's only
            OutboxClassStats nm = outbox.GetStats().For(OutboxMessageClass.NearMiss);
            Assert.Equal(6, nm.WrittenCount); // three reports, three raw-audio clips (consent)
            Assert.Equal(1, outbox.GetStats().For(OutboxMessageClass.Detection).WrittenCount);

            var queue = new OutboxUplinkQueue(outbox, hash);
            await using (var uplink = new MqttUplink(Wire.UplinkOptions(g.BrokerPort, Device), queue))
            {
                uplink.Start();
                await TestWait.UntilAsync(() => outbox.GetStats().TotalCount == 0, Timeout, () => $"{outbox.GetStats().TotalCount} left; uplink: {uplink.LastError}");
                await uplink.StopAsync();
            }
            Assert.Equal(0, queue.DeadLetteredCount);
        }

        IGatewayStore store = g.Service.Store;
        Assert.Equal(0, store.Count().Quarantined);
        Assert.Equal(1, store.Count().Detections);
        Assert.Equal(2 + 3, store.Count().Clips); // the detection's audio and features, the near misses' audio
        IReadOnlyList<NearMissRecord> misses = [.. store.ReadNearMisses(Device, 10).OrderBy(n => n.StreamOffsetMs)];
        Assert.Equal(3, misses.Count);
        for (int i = 0; i < 3; i++)
        {
            NearMissRecord n = misses[i];
            Assert.InRange(n.Score, 0.5 * threshold, threshold - 1e-6);
            Assert.Equal(threshold, n.Threshold, 5);
            Assert.Equal(0.5 * threshold, n.BandFloor, 5);
            Assert.True(n.HasAudio);
            Assert.NotNull(n.ClipId);
            // The peak's window ends around the burst's end (0.5 s burst; the model decides within ~0.2 s of it).
            Assert.InRange(n.StreamOffsetMs, (long)(quietStarts[i] * 1000), (long)(quietStarts[i] * 1000) + 1500);
        }

        // Heartbeat totals carry the near-miss counters and the NearMiss class; detections stay 1.
        HeartbeatTotalsRecord? totals = store.ReadLatestHeartbeatTotals(Device, DateTimeOffset.UtcNow.AddDays(1));
        Assert.NotNull(totals);
        Assert.Equal((1L, 3L, 0L), (totals.Totals.Detections, totals.Totals.NearMisses, totals.Totals.NearMissesRateLimited));
        Assert.Equal(6, totals.Totals.Outbox.NearMiss!.Written);

        // The worker labels the near-miss clips like trigger clips: here it cannot align (no wake phrase), so each keeps the reason.
        JsonElement items = default;
        await TestWait.UntilAsync(() =>
        {
            items = g.GetJsonAsync($"/api/near-misses?device={Device}").GetAwaiter().GetResult().GetProperty("items");
            return items.GetArrayLength() == 3 && items.EnumerateArray().All(x => x.GetProperty("label").ValueKind == JsonValueKind.String);
        }, Timeout, () => $"near misses: {items}");
        foreach (JsonElement x in items.EnumerateArray())
        {
            Assert.Equal("Unknown", x.GetProperty("label").GetString());
            Assert.Equal(JsonValueKind.Null, x.GetProperty("keywordPresent").ValueKind);
            Assert.Contains("no wake phrase", x.GetProperty("reviewReason").GetString(), StringComparison.Ordinal);
            Assert.True(x.GetProperty("hasAudio").GetBoolean());
        }

        // The detections' review queue and FA/hour see the one detection, none of the near misses.
        await TestWait.UntilAsync(() => g.GetJsonAsync("/api/review/items").GetAwaiter().GetResult().GetProperty("items").GetArrayLength() == 1, Timeout,
            () => "the detection in the review queue");
        JsonElement group = (await g.GetJsonAsync("/api/metrics/fa?window=24h&by=device")).GetProperty("groups").EnumerateArray()
            .Single(x => x.GetProperty("key").GetString() == Device);
        Assert.Equal(1, group.GetProperty("falseAccepts").GetInt64() + group.GetProperty("trueAccepts").GetInt64() + group.GetProperty("unlabelled").GetInt64());
        Assert.Equal(1, store.Count().Detections);

        // A viewer may read near misses; without a token nobody may.
        Assert.Equal(200, (int)(await g.ClientFor("vic", ApiRole.Viewer).GetAsync("/api/near-misses")).StatusCode);
        Assert.Equal(401, (int)(await g.Anonymous.GetAsync("/api/near-misses")).StatusCode);

        // A reviewer decides two of the near misses: the first was the wake phrase (a keyword the device missed), the second was not; the
        // third stays waiting for review. The detection (a tone, not the phrase) is a false accept.
        HttpClient rita = g.ClientFor("rita", ApiRole.Reviewer);
        string Decision(NearMissRecord n) => $"/api/review/near-misses/{Device}/{n.Sequence}/decision";
        (int status, JsonElement body) = await g.SendJsonAsync(HttpMethod.Post, Decision(misses[0]), new { label = "TrueAccept" }, rita);
        Assert.True(status == 200, body.ToString());
        Assert.Equal(("rita", true), (body.GetProperty("reviewer").GetString(), body.GetProperty("keywordPresent").GetBoolean()));
        Assert.Equal(200, (await g.SendJsonAsync(HttpMethod.Post, Decision(misses[1]), new { label = "FalseAccept" }, rita)).Status);
        Assert.Equal(409, (await g.SendJsonAsync(HttpMethod.Post, Decision(misses[0]), new { label = "FalseAccept" }, rita)).Status); // decided once
        Assert.Equal(400, (await g.SendJsonAsync(HttpMethod.Post, Decision(misses[2]), new { label = "Unknown" }, rita)).Status);
        Assert.Equal(404, (await g.SendJsonAsync(HttpMethod.Post, $"/api/review/near-misses/{Device}/999/decision", new { label = "TrueAccept" }, rita)).Status);
        Assert.Equal(403, (await g.SendJsonAsync(HttpMethod.Post, Decision(misses[2]), new { label = "TrueAccept" }, g.ClientFor("vera", ApiRole.Viewer))).Status);
        JsonElement decided = (await g.GetJsonAsync($"/api/near-misses?device={Device}")).GetProperty("items").EnumerateArray()
            .Single(x => x.GetProperty("sequence").GetInt64() == misses[0].Sequence);
        Assert.Equal((true, "review", "rita"), (decided.GetProperty("keywordPresent").GetBoolean(), decided.GetProperty("provenance").GetProperty("kind").GetString(),
            decided.GetProperty("provenance").GetProperty("reviewer").GetString()));
        long detectionSeq = (await g.GetJsonAsync("/api/review/items")).GetProperty("items")[0].GetProperty("sequence").GetInt64();
        Assert.Equal(200, (await g.SendJsonAsync(HttpMethod.Post, $"/api/review/items/{Device}/{detectionSeq}/decision", new { label = "FalseAccept" }, rita)).Status);

        // The field dataset: the missed keyword is a keyword example, the other near miss and the detection background; the near miss still
        // waiting for review is not in it. Default split: time.
        Assert.Equal(400, (await g.SendJsonAsync(HttpMethod.Post, "/api/review/datasets", new { name = "f", keyword = "hey edge", split = "speaker" })).Status);
        Assert.Equal(400, (await g.SendJsonAsync(HttpMethod.Post, "/api/review/datasets", new { name = "f", keyword = "hey edge", holdoutFraction = 1.0 })).Status);
        (status, body) = await g.SendJsonAsync(HttpMethod.Post, "/api/review/datasets", new { name = "field-1", keyword = "hey edge" });
        Assert.True(status == 201, body.ToString());
        Assert.Equal((3, 1, 2, 1, 2, "time"), (body.GetProperty("examples").GetInt32(), body.GetProperty("triggers").GetInt32(), body.GetProperty("nearMisses").GetInt32(),
            body.GetProperty("keywordExamples").GetInt32(), body.GetProperty("backgroundExamples").GetInt32(), body.GetProperty("split").GetString()));
        Assert.Equal(Path.Combine(datasets, "field-1"), body.GetProperty("directory").GetString());
        JsonElement cut = Assert.Single(body.GetProperty("devices").EnumerateArray());
        Assert.Equal(Device, cut.GetProperty("deviceId").GetString());
        Assert.True(cut.GetProperty("test").GetInt32() >= 1, cut.ToString());

        JsonElement[] lineage = [.. new[] { "train", "validation", "test" }
            .Select(split => Path.Combine(datasets, "field-1", split + ".lineage.jsonl")).Where(File.Exists)
            .SelectMany(File.ReadAllLines).Select(line => JsonDocument.Parse(line).RootElement.Clone())];
        Assert.Equal(3, lineage.Length);
        Assert.DoesNotContain(lineage, l => l.GetProperty("deviceClipId").GetString() == misses[2].ClipId);
        JsonElement missed = lineage.Single(l => l.GetProperty("deviceClipId").GetString() == misses[0].ClipId);
        Assert.Equal(("hey edge", 1, "nearMiss", Device, misses[0].ModelVersion, misses[0].Sequence, "audio"),
            (missed.GetProperty("labelName").GetString(), missed.GetProperty("label").GetInt32(), missed.GetProperty("kind").GetString(),
                missed.GetProperty("deviceId").GetString(), missed.GetProperty("modelVersion").GetString(), missed.GetProperty("sequence").GetInt64(),
                missed.GetProperty("featureSource").GetString()));
        Assert.Equal(misses[0].Score, missed.GetProperty("deviceScore").GetDouble(), 5);
        Assert.Equal(misses[0].DeviceTimeUtc, DateTimeOffset.Parse(missed.GetProperty("capturedUtc").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(("review", "rita"), (missed.GetProperty("labelSource").GetProperty("kind").GetString(), missed.GetProperty("labelSource").GetProperty("reviewer").GetString()));
        // Windowed like a trigger's clip: the middle 98 frames of the 1.5 s clip (1000 ms before the peak's window end, 500 ms after), 250 ms in.
        Assert.Equal((250.0, 1250.0), (missed.GetProperty("startMs").GetDouble(), missed.GetProperty("endMs").GetDouble()));
        Assert.Equal(("nearMiss", "_background_"), (lineage.Single(l => l.GetProperty("deviceClipId").GetString() == misses[1].ClipId).GetProperty("kind").GetString(),
            lineage.Single(l => l.GetProperty("deviceClipId").GetString() == misses[1].ClipId).GetProperty("labelName").GetString()));
        JsonElement trigger = lineage.Single(l => l.GetProperty("kind").GetString() == "trigger");
        Assert.Equal(("_background_", "rita"), (trigger.GetProperty("labelName").GetString(), trigger.GetProperty("labelSource").GetProperty("reviewer").GetString()));
        // The device's latest clip is held out; nothing in train is captured at or after the first test clip.
        DateTimeOffset Captured(JsonElement l) => DateTimeOffset.Parse(l.GetProperty("capturedUtc").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        DateTimeOffset testFrom = lineage.Where(l => l.GetProperty("split").GetString() == "test").Min(Captured);
        Assert.Equal("test", lineage.MaxBy(l => (Captured(l), l.GetProperty("sequence").GetInt64()))!.GetProperty("split").GetString());
        Assert.All(lineage.Where(l => l.GetProperty("split").GetString() != "test"), l => Assert.True(Captured(l) < testFrom));
    }
}

using System.Net;
using System.Text.Json;
using EdgeKws.Gateway.Api;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Labeling.Tests.Verification;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;
using MQTTnet;

namespace EdgeKws.Gateway.Tests.Labeling;

/// <summary>
/// The labeling worker and the review API in the real gateway (<see cref="WebGateway"/>: Kestrel on a free loopback port, the
/// embedded broker, a SQLite file): clips arrive through MQTT ingest, the worker labels or queues them, HTTP decides them.
/// </summary>
public sealed class ReviewRoundTrip_Tests
{
    internal const string Device = "dev-review";

    [Fact]
    public async Task Review_round_trip_through_the_api_labels_the_detection_and_moves_fa_per_hour()
    {
        // No wake phrase configured and detections without a keyword: the worker cannot align, so both clips go to review
        // without needing pocketsphinx: one with raw audio (playable), one feature-only (no consent).
        using var datasets = new TempDirectory();
        await using WebGateway g = await WebGateway.StartAsync([Device], "--Gateway:Labeling:Enabled=true", "--Gateway:Labeling:Interval=00:00:00.200",
            "--Gateway:Labeling:DatasetDirectory=" + datasets.Path, "--Gateway:Labeling:FeatureOnlyGrace=00:00:01");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        Guid audioClip = Guid.NewGuid(), featureClip = Guid.NewGuid();
        short[] pcm = [.. Enumerable.Range(0, 16_000).Select(i => (short)(Math.Sin(i * 0.05) * 6000))];
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, Device))
        {
            await Publish(pub, MessageKind.Heartbeat, WireJson.Serialize(new Heartbeat
            {
                DeviceId = Device,
                DeviceTimeUtc = now.AddMinutes(-1),
                IntervalSeconds = 3600,
                ListeningSeconds = 3600,
                Detections = 2,
                ModelVersion = "kws-1.0.0",
                RssBytes = 10_000_000,
                UptimeSeconds = 3600,
            }), 1, null);
            await Publish(pub, MessageKind.ClipAudio, AudioFrame(audioClip, now.AddMinutes(-30), pcm), 2, Wire.ConfigHash);
            await Publish(pub, MessageKind.Detection, WireJson.Serialize(Detection(now.AddMinutes(-30), audioClip, keyword: null)), 3, Wire.ConfigHash);
            await Publish(pub, MessageKind.ClipFeatures, Wire.FeatureClip(featureClip), 4, Wire.ConfigHash);
            await Publish(pub, MessageKind.Detection, WireJson.Serialize(Detection(now.AddMinutes(-20), featureClip, keyword: null)), 5, Wire.ConfigHash);
        }

        JsonElement queue = await PollAsync(async () =>
        {
            JsonElement q = await g.GetJsonAsync("/api/review/items");
            return q.GetProperty("items").GetArrayLength() == 2 ? q : (JsonElement?)null;
        }, TimeSpan.FromSeconds(120), "both clips in the review queue");
        Assert.Equal(2, queue.GetProperty("count").GetInt64());
        Assert.Equal(2, (await g.GetJsonAsync("/api/review-queue")).GetProperty("count").GetInt64()); // the old count agrees
        JsonElement audioItem = queue.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("sequence").GetInt64() == 3);
        JsonElement featureItem = queue.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("sequence").GetInt64() == 5);
        Assert.Equal(audioClip.ToString("D"), audioItem.GetProperty("clipId").GetString());
        Assert.True(audioItem.GetProperty("hasAudio").GetBoolean());
        Assert.Contains("no wake phrase", audioItem.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("aligner:", audioItem.GetProperty("source").GetString(), StringComparison.Ordinal);
        Assert.False(featureItem.GetProperty("hasAudio").GetBoolean());
        Assert.Contains("feature-only clip", featureItem.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // The reviewer hears exactly the samples the device sent.
        using (HttpResponseMessage wav = await g.Http.GetAsync(audioItem.GetProperty("audioUrl").GetString()))
        {
            Assert.Equal(HttpStatusCode.OK, wav.StatusCode);
            Assert.Equal("audio/wav", wav.Content.Headers.ContentType?.MediaType);
            using var reader = new WavReader(await wav.Content.ReadAsStreamAsync());
            Assert.Equal((16_000, 1, 16_000L), (reader.Format.SampleRateHz, reader.Format.Channels, reader.Format.FrameCount));
        }
        Assert.Equal(HttpStatusCode.NotFound, (await g.Http.GetAsync($"/api/review/clips/{Device}/{featureClip:D}/audio")).StatusCode);

        // Decide: the audio clip was a false wake, the feature-only one a real one. The reviewer is the token's name: a name in
        // the body is not taken; a viewer may not decide.
        HttpClient alice = g.ClientFor("alice", ApiRole.Reviewer), bob = g.ClientFor("bob", ApiRole.Reviewer), viewer = g.ClientFor("vic", ApiRole.Viewer);
        Assert.Equal(403, (await g.SendJsonAsync(HttpMethod.Post, $"/api/review/items/{Device}/3/decision", new { label = "FalseAccept" }, viewer)).Status);
        (int status, JsonElement body) = await g.SendJsonAsync(HttpMethod.Post, $"/api/review/items/{Device}/3/decision", new { label = "FalseAccept", reviewer = "mallory" }, alice);
        Assert.True(status == 200, body.ToString());
        Assert.Equal(1, body.GetProperty("queued").GetInt64());
        Assert.Equal("alice", body.GetProperty("reviewer").GetString());
        (status, _) = await g.SendJsonAsync(HttpMethod.Post, $"/api/review/items/{Device}/5/decision", new { label = "TrueAccept" }, alice);
        Assert.Equal(200, status);
        (status, body) = await g.SendJsonAsync(HttpMethod.Post, $"/api/review/items/{Device}/3/decision", new { label = "TrueAccept" }, bob);
        Assert.Equal(409, status); // decided items leave the queue
        (status, _) = await g.SendJsonAsync(HttpMethod.Post, $"/api/review/items/{Device}/3/decision", new { label = "Unknown" }, bob);
        Assert.Equal(400, status);

        Assert.Equal(0, (await g.GetJsonAsync("/api/review/items")).GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await g.GetJsonAsync("/api/review-queue")).GetProperty("count").GetInt64());
        JsonElement labels = await g.GetJsonAsync($"/api/labels?device={Device}");
        JsonElement fa = labels.EnumerateArray().Single(l => l.GetProperty("sequence").GetInt64() == 3);
        Assert.Equal("FalseAccept", fa.GetProperty("label").GetString());
        Assert.Equal("review:alice", fa.GetProperty("source").GetString());
        JsonElement provenance = (await g.GetJsonAsync($"/api/review/labels?device={Device}")).EnumerateArray()
            .Single(l => l.GetProperty("label").GetProperty("sequence").GetInt64() == 3).GetProperty("provenance");
        Assert.Equal(("review", "alice"), (provenance.GetProperty("kind").GetString(), provenance.GetProperty("reviewer").GetString()));
        // Nor can the bulk label API write a review label in another reviewer's name.
        (status, body) = await g.SendJsonAsync(HttpMethod.Post, "/api/labels", new[] { new { deviceId = Device, sequence = 3, label = "TrueAccept", source = "review:alice" } }, bob);
        Assert.Equal(400, status);
        Assert.Contains("[0].source", body.GetProperty("error").GetString(), StringComparison.Ordinal);

        // One false accept in one listening hour.
        JsonElement group = (await g.GetJsonAsync("/api/metrics/fa?window=24h&by=device")).GetProperty("groups").EnumerateArray()
            .Single(x => x.GetProperty("key").GetString() == Device);
        Assert.Equal((1L, 1L, 0L), (group.GetProperty("falseAccepts").GetInt64(), group.GetProperty("trueAccepts").GetInt64(), group.GetProperty("unlabelled").GetInt64()));
        Assert.Equal(1.0, group.GetProperty("faPerHour").GetDouble(), 6);

        // Audit: bob re-reviews a sample of alice's labels; he agrees on one of two. Each reviewer's sample leaves out their own.
        JsonElement sample = await g.GetJsonAsync("/api/review/audit/sample?count=10&seed=7", bob);
        Assert.Equal(2, sample.GetArrayLength());
        Assert.Empty((await g.GetJsonAsync("/api/review/audit/sample?count=10", alice)).EnumerateArray());
        Assert.Equal(201, (await g.SendJsonAsync(HttpMethod.Post, "/api/review/audit", new { deviceId = Device, sequence = 3, label = "FalseAccept" }, bob)).Status);
        Assert.Equal(201, (await g.SendJsonAsync(HttpMethod.Post, "/api/review/audit", new { deviceId = Device, sequence = 5, label = "FalseAccept" }, bob)).Status);
        Assert.Equal(400, (await g.SendJsonAsync(HttpMethod.Post, "/api/review/audit", new { deviceId = Device, sequence = 5, label = "FalseAccept" }, alice)).Status);
        JsonElement audit = await g.GetJsonAsync("/api/review/audit");
        Assert.Equal((2L, 1L, 0.5), (audit.GetProperty("compared").GetInt64(), audit.GetProperty("agreed").GetInt64(), audit.GetProperty("rate").GetDouble()));
        Assert.Equal(2, audit.GetProperty("byFirstKind").GetProperty("review").GetProperty("compared").GetInt64());

        // The reviewed clip with raw audio becomes a dataset example (the feature-only one cannot), and its membership is recorded.
        (status, body) = await g.SendJsonAsync(HttpMethod.Post, "/api/review/datasets", new { name = "reviewed-1", keyword = "hey edge" });
        Assert.True(status == 201, body.ToString());
        Assert.Equal(1, body.GetProperty("examples").GetInt32());
        string datasetId = body.GetProperty("datasetId").GetString()!;
        using (JsonDocument manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(datasets.Path, "reviewed-1", "dataset.json"))))
        {
            Assert.Equal(datasetId, manifest.RootElement.GetProperty("datasetId").GetString());
        }
        Assert.Equal([new DatasetMember(Device, audioClip.ToString("D"))], g.Service.Store.ReadDatasetMembers(datasetId));
        Assert.Equal(400, (await g.SendJsonAsync(HttpMethod.Post, "/api/review/datasets", new { name = "../escape", keyword = "hey edge" })).Status);
        JsonElement erased = (await g.SendJsonAsync(HttpMethod.Delete, $"/api/devices/{Device}/data", new { })).Body;
        Assert.Equal(1, erased.GetProperty("erased").GetProperty("datasetMemberships").GetInt64());
        Assert.Empty(g.Service.Store.ReadDatasetMembers(datasetId));
    }

    [Fact]
    public async Task Worker_labels_a_generated_true_trigger_true_accept_and_a_near_miss_never_true_accept()
    {
        using var dir = new TempDirectory();
        IReadOnlyList<TriggerClip> clips = await TriggerClips.GenerateAsync(dir.Path, TriggerClips.Speakers(1),
            [("wake", TriggerClips.Wake), ("near-miss", "hey hedge"), ("near-miss", "hey ed")], noiseClips: 0);
        await using WebGateway g = await WebGateway.StartAsync([Device], "--Gateway:Labeling:Enabled=true", "--Gateway:Labeling:Interval=00:00:00.200");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, Device))
        {
            long seq = 0;
            foreach (TriggerClip c in clips)
            {
                Guid id = Guid.NewGuid();
                short[] pcm = [.. WavFile.ReadAllMono(c.Path, out _).Select(x => (short)Math.Clamp(Math.Round(x * 32767.0), -32768, 32767))];
                await Publish(pub, MessageKind.ClipAudio, AudioFrame(id, now.AddMinutes(-5), pcm), ++seq, Wire.ConfigHash);
                await Publish(pub, MessageKind.Detection, WireJson.Serialize(Detection(now.AddMinutes(-5), id, "hey_edge")), ++seq, Wire.ConfigHash);
            }
        }

        JsonElement labels = await PollAsync(async () =>
        {
            JsonElement l = await g.GetJsonAsync($"/api/review/labels?device={Device}");
            return l.GetArrayLength() == 3 ? l : (JsonElement?)null;
        }, TimeSpan.FromSeconds(120), "three labels from the worker");
        string LabelOf(long seq) => labels.EnumerateArray().Single(l => l.GetProperty("label").GetProperty("sequence").GetInt64() == seq).GetProperty("label").GetProperty("label").GetString()!;
        Assert.Equal("TrueAccept", LabelOf(2));
        Assert.NotEqual("TrueAccept", LabelOf(4)); // hey hedge
        Assert.NotEqual("TrueAccept", LabelOf(6)); // hey ed
        foreach (JsonElement l in labels.EnumerateArray())
        {
            JsonElement p = l.GetProperty("provenance");
            Assert.Equal("aligner", p.GetProperty("kind").GetString());
            Assert.StartsWith("pocketsphinx ", p.GetProperty("tool").GetString(), StringComparison.Ordinal);
            Assert.Contains("trigger-verifier", p.GetProperty("tool").GetString(), StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Number, p.GetProperty("confidence").ValueKind);
            Assert.Equal(JsonValueKind.Null, p.GetProperty("reviewer").ValueKind);
        }
    }

    [Fact]
    public async Task Calibrated_worker_overrules_a_confident_aligner_keeps_every_signal_and_sends_the_unsure_to_review()
    {
        // A calibration in which the device's score carries the truth and the aligner's confidence little (as on far-field
        // audio, docs/labeling.md): the same true wake said three times, heard by the device as sure (0.999), sure it was not
        // (0.001) and unsure (0.5). The aligner fits the phrase well each time.
        using var dir = new TempDirectory();
        IReadOnlyList<TriggerClip> clips = await TriggerClips.GenerateAsync(dir.Path, TriggerClips.Speakers(1), [("wake", TriggerClips.Wake)], noiseClips: 0);
        var calibration = new EdgeKws.Labeling.Verification.LabelCalibration
        {
            FeatureNames = [.. EdgeKws.Labeling.Verification.LabelEvidence.FeatureNames],
            Means = [0, 0, 0, 0, 0, 0],
            Scales = [1, 1, 1, 1, 1, 1],
            Weights = [0, 0.5, -0.2, 0, 1.5, 0],
            Bias = -0.25,
            FittedOn = "hand-made for this test",
        };
        string calibrationPath = Path.Combine(dir.Path, "label-calibration.json");
        calibration.Save(calibrationPath);
        await using WebGateway g = await WebGateway.StartAsync([Device], "--Gateway:Labeling:Enabled=true", "--Gateway:Labeling:Interval=00:00:00.200",
            "--Gateway:Labeling:CalibrationPath=" + calibrationPath);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        short[] pcm = [.. WavFile.ReadAllMono(clips[0].Path, out _).Select(x => (short)Math.Clamp(Math.Round(x * 32767.0), -32768, 32767))];
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, Device))
        {
            long seq = 0;
            foreach (float score in new[] { 0.999f, 0.001f, 0.5f })
            {
                Guid id = Guid.NewGuid();
                await Publish(pub, MessageKind.ClipAudio, AudioFrame(id, now.AddMinutes(-5), pcm), ++seq, Wire.ConfigHash);
                await Publish(pub, MessageKind.Detection, WireJson.Serialize(Detection(now.AddMinutes(-5), id, "hey_edge", score)), ++seq, Wire.ConfigHash);
            }
        }

        JsonElement labels = await PollAsync(async () =>
        {
            JsonElement l = await g.GetJsonAsync($"/api/review/labels?device={Device}");
            return l.GetArrayLength() == 3 ? l : (JsonElement?)null;
        }, TimeSpan.FromSeconds(120), "three labels (decided or Unknown in review) from the worker");
        JsonElement Label(long seq) => labels.EnumerateArray().Single(l => l.GetProperty("label").GetProperty("sequence").GetInt64() == seq);
        Assert.Equal("TrueAccept", Label(2).GetProperty("label").GetProperty("label").GetString());
        // The confident aligner is overruled by the signal the calibration weights (here the device score, set against the clip's
        // truth on purpose): what this checks is that the calibration decides, with every signal kept. That a confidently wrong
        // signal is outvoted by the others is CalibratedLabeler_Tests' case.
        Assert.Equal("FalseAccept", Label(4).GetProperty("label").GetProperty("label").GetString());
        foreach ((long seq, string device) in new[] { (2L, "dev 0.999"), (4L, "dev 0.001") })
        {
            JsonElement p = Label(seq).GetProperty("provenance");
            string tool = p.GetProperty("tool").GetString()!;
            Assert.StartsWith("calibrated 1 P ", tool, StringComparison.Ordinal);
            Assert.Contains(device, tool, StringComparison.Ordinal);
            Assert.Contains("al ", tool, StringComparison.Ordinal);
            Assert.Contains("nm ", tool, StringComparison.Ordinal);
            Assert.Contains("pocketsphinx", tool, StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Number, p.GetProperty("confidence").ValueKind);
        }
        Assert.True(Label(2).GetProperty("provenance").GetProperty("confidence").GetDouble() >= 0.98);
        // The calibration was registered before it decided anything; each label names it by its hash prefix, and the registry
        // serves the very file.
        string calibrationSha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(calibrationPath)));
        JsonElement registered = (await g.GetJsonAsync("/api/registry/labeling-models")).EnumerateArray().Single();
        Assert.Equal(("calibration", calibrationSha), (registered.GetProperty("kind").GetString(), registered.GetProperty("sha256").GetString()));
        Assert.Equal("hand-made for this test", registered.GetProperty("lineage").GetProperty("fittedOn").GetString());
        Assert.Contains(" cal " + calibrationSha[..12] + ";", Label(2).GetProperty("provenance").GetProperty("tool").GetString(), StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(calibrationPath), await g.Http.GetByteArrayAsync($"/api/registry/labeling-models/{calibrationSha}/file"));
        Assert.True(Label(4).GetProperty("provenance").GetProperty("confidence").GetDouble() <= 0.02);

        Assert.Equal("Unknown", Label(6).GetProperty("label").GetProperty("label").GetString());
        JsonElement item = (await g.GetJsonAsync("/api/review/items")).GetProperty("items").EnumerateArray().Single();
        Assert.Equal(6, item.GetProperty("sequence").GetInt64());
        Assert.Contains("P(wake phrase)", item.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("device 0.500", item.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Review_page_logs_in_with_a_cookie_refuses_forged_posts_and_records_the_decision_under_the_token_name()
    {
        await using WebGateway g = await WebGateway.StartAsync([Device], "--Gateway:Labeling:Enabled=true", "--Gateway:Labeling:Interval=00:00:00.200");
        Guid clip = Guid.NewGuid();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, Device))
        {
            await Publish(pub, MessageKind.ClipAudio, AudioFrame(clip, now, [.. Enumerable.Range(0, 16_000).Select(i => (short)(i % 200 * 50))]), 1, Wire.ConfigHash);
            await Publish(pub, MessageKind.Detection, WireJson.Serialize(Detection(now, clip, keyword: null)), 2, Wire.ConfigHash);
        }
        await PollAsync(async () => (await g.GetJsonAsync("/api/review-queue")).GetProperty("count").GetInt64() == 1 ? default(JsonElement) : null,
            TimeSpan.FromSeconds(120), "the clip in the review queue");

        // carol, a reviewer, opens the review page signed out: the gateway answers with the login form; her token logs her in.
        string carolToken = g.CreateToken("carol", ApiRole.Reviewer);
        Uri reviewPage = new(g.BaseAddress, "/dashboard/review.html");
        await using Dashboard.HeadlessChromium browser = await Dashboard.HeadlessChromium.StartAsync(1280, 900);
        await browser.LoginAsync(reviewPage, carolToken);
        const string State = """
            (() => {
              const b = document.body;
              if (!b || b.dataset.ready !== "1") return null;
              const rows = [...document.querySelectorAll("#items tbody tr")];
              return JSON.stringify({ error: b.dataset.error || null, rows: rows.length, waiting: document.getElementById("waiting").textContent,
                audio: rows.map(r => r.dataset.audioUrl || null), reason: rows.map(r => r.children[3].textContent),
                message: document.getElementById("message").textContent, session: document.getElementById("session").dataset.name || null,
                path: location.pathname, scriptSeesCookie: document.cookie.includes("edgekws_session") });
            })()
            """;
        JsonElement state = await BrowserPollAsync(browser, State, s => s.GetProperty("rows").GetInt32() == 1 && s.GetProperty("session").ValueKind == JsonValueKind.String);
        Assert.Equal(JsonValueKind.Null, state.GetProperty("error").ValueKind);
        Assert.Equal("/dashboard/review.html", state.GetProperty("path").GetString()); // the login returned to the page asked for
        Assert.Equal("carol", state.GetProperty("session").GetString());
        Assert.Equal("1", state.GetProperty("waiting").GetString());
        Assert.EndsWith($"/api/review/clips/{Device}/{clip:D}/audio", state.GetProperty("audio")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("no wake phrase", state.GetProperty("reason")[0].GetString(), StringComparison.Ordinal);

        // The session cookie holds the token: HttpOnly (page scripts cannot read it) and SameSite=Strict (no cross-site sending).
        JsonElement cookie = Assert.Single(await browser.CookiesAsync(reviewPage), c => c.GetProperty("name").GetString() == ApiAuth.CookieName);
        Assert.True(cookie.GetProperty("httpOnly").GetBoolean());
        Assert.Equal("Strict", cookie.GetProperty("sameSite").GetString());
        Assert.False(state.GetProperty("scriptSeesCookie").GetBoolean());

        // The cookie alone does not make a state change: without the anti-forgery header (what a forged request would lack) the
        // decision is refused and the clip stays queued; the player's audio (a GET) needs none.
        JsonElement forged = await browser.EvaluateAsync($$"""
            fetch("/api/review/items/{{Device}}/2/decision", { method: "POST", headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ label: "TrueAccept" }) }).then(r => r.status)
            """, awaitPromise: true);
        Assert.Equal(403, forged.GetInt32());
        JsonElement wrongHeader = await browser.EvaluateAsync($$"""
            fetch("/api/review/items/{{Device}}/2/decision", { method: "POST", headers: { "Content-Type": "application/json", "{{ApiAuth.AntiForgeryHeader}}": "forged" },
              body: JSON.stringify({ label: "TrueAccept" }) }).then(r => r.status)
            """, awaitPromise: true);
        Assert.Equal(403, wrongHeader.GetInt32());
        Assert.Equal(200, (await browser.EvaluateAsync(
            $$"""fetch({{JsonSerializer.Serialize(state.GetProperty("audio")[0].GetString())}}).then(r => r.status)""", awaitPromise: true)).GetInt32());
        Assert.Equal(1, (await g.GetJsonAsync("/api/review-queue")).GetProperty("count").GetInt64());

        // The page's own button (for the selected clip) sends the header: the decision is recorded under the token's name.
        await browser.EvaluateAsync("""
            (() => { document.querySelector('#decide button[data-label="FalseAccept"]').click(); return 1; })()
            """);
        state = await BrowserPollAsync(browser, State, s => s.GetProperty("rows").GetInt32() == 0);
        Assert.Contains("FalseAccept by carol", state.GetProperty("message").GetString(), StringComparison.Ordinal);
        JsonElement label = (await g.GetJsonAsync($"/api/labels?device={Device}")).EnumerateArray().Single();
        Assert.Equal(("FalseAccept", "review:carol"), (label.GetProperty("label").GetString(), label.GetProperty("source").GetString()));

        // The audit log has carol's sign-in, both refused forgeries and her decision, newest first.
        JsonElement[] audit = [.. (await g.GetJsonAsync("/api/audit-log?limit=10")).GetProperty("items").EnumerateArray()];
        Assert.Equal(
            [("POST /api/review/items/{deviceId}/{sequence:long}/decision", 200), ("POST /api/review/items/{deviceId}/{sequence:long}/decision", 403),
             ("POST /api/review/items/{deviceId}/{sequence:long}/decision", 403), ("POST /login", 302)],
            audit.Take(4).Select(a => ($"{a.GetProperty("method").GetString()} {a.GetProperty("route").GetString()}", a.GetProperty("status").GetInt32())));
        Assert.All(audit.Take(4), a => Assert.Equal(("carol", "reviewer"), (a.GetProperty("actor").GetString(), a.GetProperty("role").GetString())));
        Assert.Equal("FalseAccept", audit[0].GetProperty("arguments").GetProperty("body").GetProperty("label").GetString());
    }

    internal static async Task<JsonElement> BrowserPollAsync(Dashboard.HeadlessChromium browser, string expression, Func<JsonElement, bool> done)
    {
        DateTime end = DateTime.UtcNow.AddSeconds(120); // liveness only
        JsonElement last = default;
        while (DateTime.UtcNow < end)
        {
            JsonElement v = await browser.EvaluateAsync(expression);
            if (v.ValueKind == JsonValueKind.String)
            {
                last = JsonDocument.Parse(v.GetString()!).RootElement.Clone();
                if (done(last))
                {
                    return last;
                }
            }
            await Task.Delay(200);
        }
        Assert.Fail("the review page did not reach the expected state within 120 s; last state: " + last);
        return last;
    }

    // Polls the HTTP API (async) until the probe returns a value.
    internal static async Task<JsonElement> PollAsync(Func<Task<JsonElement?>> probe, TimeSpan timeout, string what)
    {
        DateTime end = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } v)
            {
                return v;
            }
            Assert.True(DateTime.UtcNow < end, "timed out waiting for " + what);
            await Task.Delay(100);
        }
    }

    internal static DetectionReport Detection(DateTimeOffset time, Guid clipId, string? keyword, float score = 0.9f) => new()
    {
        DeviceId = Device,
        DeviceTimeUtc = time,
        StreamOffsetMs = 1000,
        Score = score,
        Keyword = keyword,
        ModelVersion = "kws-1.0.0",
        FeatureConfigHash = Wire.ConfigHash,
        ClipId = clipId,
    };

    internal static byte[] AudioFrame(Guid clipId, DateTimeOffset time, short[] pcm)
    {
        var frame = new byte[ClipAudio.GetFrameSizeBytes(pcm.Length)];
        ClipAudio.Write(frame, clipId, time, 16_000, Convert.FromHexString(Wire.ConfigHash), consentGranted: true, pcm);
        return frame;
    }

    internal static async Task Publish(RawPublisher pub, MessageKind kind, byte[] payload, long seq, string? cfg)
    {
        string type = kind is MessageKind.ClipAudio or MessageKind.ClipFeatures ? ContentTypes.Clip : ContentTypes.Json;
        MqttClientPublishReasonCode code = await pub.PublishAsync(Topics.Uplink(Device, kind), payload, Wire.Properties(seq, kind, cfg), type);
        Assert.Equal(MqttClientPublishReasonCode.Success, code);
    }
}

using System.Text.Json;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;
using RT = EdgeKws.Gateway.Tests.Labeling.ReviewRoundTrip_Tests;

namespace EdgeKws.Gateway.Tests.Dashboard;

/// <summary>
/// The review page as a person works it, in real headless Chromium against the real gateway: the selected clip's waveform and
/// spectrogram read back from the canvases, decisions and spot-check re-checks made with keys (trusted DevTools key events),
/// and their outcomes read from the API.
/// </summary>
public sealed class ReviewPage_Tests
{
    private const int RateHz = 16_000;
    private const string Device = RT.Device;

    // What the page shows, as JSON: the selection, the drawn clip, canvas pixels (waveform ink; mean level of each spectrogram row,
    // top row first), the evidence and the agreement.
    private const string State = """
        (() => {
          const b = document.body;
          if (!b || b.dataset.ready !== "1") return null;
          const panel = document.getElementById("clip");
          const pixels = (id) => { const c = document.getElementById(id); return c.getContext("2d").getImageData(0, 0, c.width, c.height); };
          const wave = pixels("wave"), spec = pixels("spec");
          let ink = 0; const columns = new Set();
          for (let i = 0; i < wave.data.length; i += 4) if (wave.data[i] < 150 && wave.data[i + 2] > 150) { ink++; columns.add((i / 4) % wave.width); }
          const rows = [];
          for (let y = 0; y < spec.height; y++) {
            let sum = 0;
            for (let x = 0; x < spec.width; x++) { const p = 4 * (y * spec.width + x); sum += spec.data[p] + spec.data[p + 1] + spec.data[p + 2]; }
            rows.push(sum / (3 * spec.width));
          }
          const text = (sel) => { const e = document.querySelector(sel); return e ? e.textContent : null; };
          return JSON.stringify({
            error: b.dataset.error || null, mode: document.getElementById("queue-view").hidden ? "spot" : "queue",
            selected: (document.querySelector("table.pick tbody tr.selected") || { dataset: {} }).dataset.key || null,
            queueRows: document.querySelectorAll("#items tbody tr").length, drawn: panel.dataset.drawn || null, audio: panel.dataset.audio || null,
            waveInk: ink, waveColumns: columns.size, waveWidth: wave.width, specRows: rows,
            noAudio: text("#no-audio"), reason: text("#reason"), proposed: text("#proposed"), pWake: text("#p-wake .p-wake"),
            signals: [...document.querySelectorAll("#signals li")].map(li => li.textContent), keys: text("#keys"),
            message: text("#message"), playheadSeconds: Number(document.getElementById("playhead").dataset.seconds || 0),
            spotLoaded: document.getElementById("spot").dataset.loaded === "1",
            spot: [...document.querySelectorAll("#spot tbody tr")].map(r => ({ key: r.dataset.key, label: r.children[2].textContent, check: r.children[5].textContent })),
            alignerAgreement: text("#agreement-aligner"), alignerCompared: Number(document.getElementById("agreement-aligner").dataset.compared || 0),
          });
        })()
        """;

    [Fact]
    public async Task Review_page_draws_the_clip_and_decides_with_one_key_per_decision_under_the_token_name()
    {
        // Two clips with audio, pure tones of 1 kHz and 3 kHz, and one feature-only clip. No wake phrase is configured, so the
        // worker queues all three for review without needing pocketsphinx.
        await using WebGateway g = await WebGateway.StartAsync([Device], "--Gateway:Labeling:Enabled=true", "--Gateway:Labeling:Interval=00:00:00.200",
            "--Gateway:Labeling:FeatureOnlyGrace=00:00:01");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        Guid lowClip = Guid.NewGuid(), highClip = Guid.NewGuid(), featureClip = Guid.NewGuid();
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, Device))
        {
            await RT.Publish(pub, MessageKind.ClipAudio, RT.AudioFrame(lowClip, now.AddMinutes(-3), Tone(1000)), 1, Wire.ConfigHash);
            await RT.Publish(pub, MessageKind.Detection, WireJson.Serialize(RT.Detection(now.AddMinutes(-3), lowClip, keyword: null)), 2, Wire.ConfigHash);
            await RT.Publish(pub, MessageKind.ClipAudio, RT.AudioFrame(highClip, now.AddMinutes(-2), Tone(3000)), 3, Wire.ConfigHash);
            await RT.Publish(pub, MessageKind.Detection, WireJson.Serialize(RT.Detection(now.AddMinutes(-2), highClip, keyword: null)), 4, Wire.ConfigHash);
            await RT.Publish(pub, MessageKind.ClipFeatures, Wire.FeatureClip(featureClip), 5, Wire.ConfigHash);
            await RT.Publish(pub, MessageKind.Detection, WireJson.Serialize(RT.Detection(now.AddMinutes(-1), featureClip, keyword: null)), 6, Wire.ConfigHash);
        }
        JsonElement queue = await RT.PollAsync(async () =>
        {
            JsonElement q = await g.GetJsonAsync("/api/review/items");
            return q.GetProperty("items").GetArrayLength() == 3 ? q : (JsonElement?)null;
        }, TimeSpan.FromSeconds(120), "three clips in the review queue");
        string[] order = [.. queue.GetProperty("items").EnumerateArray().Select(i => $"{Device}/{i.GetProperty("sequence").GetInt64()}")];
        Assert.Equal($"{Device}/6", order[2]); // the feature-only clip waits its grace before it is queued
        var toneHz = new Dictionary<string, double> { [$"{Device}/2"] = 1000, [$"{Device}/4"] = 3000 };

        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(1280, 1000);
        await browser.LoginAsync(new Uri(g.BaseAddress, "/dashboard/review.html"), g.CreateToken("carol", ApiRole.Reviewer));

        // The oldest clip is selected and drawn; the keys are on the page.
        JsonElement s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("drawn").GetString() == order[0] && x.GetProperty("queueRows").GetInt32() == 3);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("error").ValueKind);
        Assert.Equal(order[0], s.GetProperty("selected").GetString());
        AssertDrawsTone(s, toneHz[order[0]]);
        JsonElement shot = await browser.SendAsync("Page.captureScreenshot", new System.Text.Json.Nodes.JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        await File.WriteAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "review-screenshot.png"), Convert.FromBase64String(shot.GetProperty("data").GetString()!));
        Assert.Contains("no wake phrase", s.GetProperty("reason").GetString(), StringComparison.Ordinal);
        string keys = s.GetProperty("keys").GetString()!;
        foreach (string k in new[] { "wake word (TrueAccept)", "false wake (FalseAccept)", "play / pause", "next", "previous", "spot check" })
        {
            Assert.Contains(k, keys, StringComparison.Ordinal);
        }

        // j and k move the selection (and the drawing) down and back up.
        await browser.PressKeyAsync("j");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("drawn").GetString() == order[1]);
        Assert.Equal(order[1], s.GetProperty("selected").GetString());
        AssertDrawsTone(s, toneHz[order[1]]);
        await browser.PressKeyAsync("ArrowUp");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("drawn").GetString() == order[0]);

        // Space plays the selected clip: the playhead moves.
        await browser.PressKeyAsync(" ");
        await RT.BrowserPollAsync(browser, State, x => x.GetProperty("playheadSeconds").GetDouble() > 0);
        await browser.PressKeyAsync(" ");

        // f: a false wake, recorded under carol's name; the next clip is selected and drawn.
        await browser.PressKeyAsync("f");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("queueRows").GetInt32() == 2 && x.GetProperty("drawn").GetString() == order[1]);
        Assert.Equal(order[1], s.GetProperty("selected").GetString());
        Assert.Contains("FalseAccept by carol", s.GetProperty("message").GetString(), StringComparison.Ordinal);
        AssertDrawsTone(s, toneHz[order[1]]);
        Assert.Equal(("FalseAccept", "review:carol"), await LabelOf(g, order[0]));

        // t: a wake word; the feature-only clip is next and says it has no audio.
        await browser.PressKeyAsync("t");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("queueRows").GetInt32() == 1 && x.GetProperty("drawn").GetString() == order[2]);
        Assert.Equal(order[2], s.GetProperty("selected").GetString());
        Assert.Equal("none", s.GetProperty("audio").GetString());
        Assert.Contains("Feature-only clip: no raw audio", s.GetProperty("noAudio").GetString(), StringComparison.Ordinal);
        Assert.Contains("feature-only clip", s.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(("TrueAccept", "review:carol"), await LabelOf(g, order[1]));
        Assert.Equal(1, (await g.GetJsonAsync("/api/review-queue")).GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task Spot_check_lists_automatic_labels_shows_the_calibrated_evidence_and_a_recheck_by_key_moves_the_agreement()
    {
        // The worker is off: the test writes the worker's output itself. Two automatic labels (the aligner's, a calibrated
        // one), one label alice decided in review, and one clip the calibrated labeler was unsure of, waiting in the queue.
        await using WebGateway g = await WebGateway.StartAsync([Device]);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        Guid[] clips = [Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid()];
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, Device))
        {
            for (int i = 0; i < clips.Length; i++)
            {
                await RT.Publish(pub, MessageKind.ClipAudio, RT.AudioFrame(clips[i], now.AddMinutes(i - 10), Tone(500 + 500 * i)), 2 * i + 1, Wire.ConfigHash);
                await RT.Publish(pub, MessageKind.Detection, WireJson.Serialize(RT.Detection(now.AddMinutes(i - 10), clips[i], keyword: "hey_edge")), 2 * i + 2, Wire.ConfigHash);
            }
        }
        IGatewayStore store = g.Service.Store;
        await RT.PollAsync(() => Task.FromResult(store.ReadUnlabelledTriggerClips(10, now.AddHours(1)).Count == 4 ? default(JsonElement) : (JsonElement?)null),
            TimeSpan.FromSeconds(120), "four detections with clips stored");
        const string Aligner = "pocketsphinx 0.8+5prealpha+1-15; trigger-verifier 2";
        const string Calibrated = "calibrated 1 P 0.010 [al 0.95 nm 'hey ed' 2.0 dev 0.020]; " + Aligner;
        const string Unsure = "P(wake phrase) 0.534 from aligner 0.91, near miss 'hey ed' fits better by 0.0 per frame, device 0.500: neither >= 0.98 (true accept) nor <= 0.02 (false accept)";
        void Write(long seq, DetectionLabelKind kind, string tool, double p, string? reason, DetectionLabelKind candidate) =>
            Assert.Null(store.WriteAutomaticLabel(new DetectionLabel(Device, seq, kind, "aligner:" + tool, now), new LabelProvenance(LabelProvenanceKinds.Aligner, tool, p, null),
                reason, candidate, clips[seq / 2 - 1].ToString("D")));
        Write(2, DetectionLabelKind.TrueAccept, Aligner, 0.9, null, DetectionLabelKind.TrueAccept);
        Write(4, DetectionLabelKind.FalseAccept, Calibrated, 0.01, null, DetectionLabelKind.FalseAccept);
        Write(6, DetectionLabelKind.Unknown, Aligner, 0.5, "aligner unsure", DetectionLabelKind.TrueAccept);
        Assert.Null(store.DecideReview(Device, 6, DetectionLabelKind.TrueAccept, "alice", now));
        Write(8, DetectionLabelKind.Unknown, Calibrated, 0.534, Unsure, DetectionLabelKind.TrueAccept);

        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(1280, 1000);
        await browser.LoginAsync(new Uri(g.BaseAddress, "/dashboard/review.html"), g.CreateToken("carol", ApiRole.Reviewer));

        // The unsure clip: its calibrated probability, every signal, and the proposed label.
        JsonElement s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("drawn").GetString() == $"{Device}/8");
        Assert.Equal("0.534", s.GetProperty("pWake").GetString());
        Assert.Equal(["aligner 0.91", "near miss 'hey ed' fits better by 0.0 per frame", "device 0.500"],
            s.GetProperty("signals").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(Unsure, s.GetProperty("reason").GetString());
        Assert.Equal("TrueAccept", s.GetProperty("proposed").GetString());

        // s: the spot check lists the two automatic labels (not alice's review label), the first selected and drawn.
        await browser.PressKeyAsync("s");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("spotLoaded").GetBoolean() && x.GetProperty("mode").GetString() == "spot"
            && x.GetProperty("selected").ValueKind == JsonValueKind.String && x.GetProperty("drawn").GetString() == x.GetProperty("selected").GetString());
        var listed = s.GetProperty("spot").EnumerateArray().ToDictionary(r => r.GetProperty("key").GetString()!, r => r.GetProperty("label").GetString());
        Assert.Equal(new Dictionary<string, string?> { [$"{Device}/2"] = "TrueAccept", [$"{Device}/4"] = "FalseAccept" }, listed);
        Assert.Equal("-", s.GetProperty("alignerAgreement").GetString());
        Assert.Equal("wav", s.GetProperty("audio").GetString());
        string first = s.GetProperty("selected").GetString()!;
        string second = listed.Keys.Single(k => k != first);

        // t on each: one agrees with its label, one does not; the agreement of automatic labels moves with each re-check.
        await browser.PressKeyAsync("t");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("alignerCompared").GetInt32() == 1 && x.GetProperty("selected").GetString() == second);
        bool firstAgrees = listed[first] == "TrueAccept";
        Assert.Equal(firstAgrees ? "100 % of 1" : "0 % of 1", s.GetProperty("alignerAgreement").GetString());
        await browser.PressKeyAsync("t");
        s = await RT.BrowserPollAsync(browser, State, x => x.GetProperty("alignerCompared").GetInt32() == 2);
        Assert.Equal("50 % of 2", s.GetProperty("alignerAgreement").GetString());
        Assert.All(s.GetProperty("spot").EnumerateArray(), r => Assert.StartsWith("TrueAccept (", r.GetProperty("check").GetString(), StringComparison.Ordinal));

        // The API behind the spot check: each sampled label carries its clip's audio URL; an unknown kind is refused.
        HttpClient dave = g.ClientFor("dave", ApiRole.Reviewer);
        JsonElement sample = await g.GetJsonAsync("/api/review/audit/sample?kind=aligner&count=5", dave);
        Assert.Equal(2, sample.GetArrayLength());
        Assert.All(sample.EnumerateArray(), x => Assert.Equal(
            $"/api/review/clips/{Device}/{clips[x.GetProperty("label").GetProperty("sequence").GetInt64() / 2 - 1]:D}/audio", x.GetProperty("audioUrl").GetString()));
        using HttpResponseMessage refused = await dave.GetAsync("/api/review/audit/sample?kind=robot");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);

        JsonElement aligner = (await g.GetJsonAsync("/api/review/audit")).GetProperty("byFirstKind").GetProperty("aligner");
        Assert.Equal((2L, 1L), (aligner.GetProperty("compared").GetInt64(), aligner.GetProperty("agreed").GetInt64()));
        JsonElement labels = await g.GetJsonAsync($"/api/labels?device={Device}"); // a re-check does not change a label
        Assert.Equal("FalseAccept", labels.EnumerateArray().Single(l => l.GetProperty("sequence").GetInt64() == 4).GetProperty("label").GetString());
    }

    private static short[] Tone(double hz) => [.. Enumerable.Range(0, RateHz).Select(i => (short)(Math.Sin(2 * Math.PI * hz * i / RateHz) * 8000))];

    // The waveform has ink across the canvas; the spectrogram's loudest row is where the tone's frequency is drawn (linear
    // axis, 0 Hz at the bottom, half the sample rate at the top) and stands well above the rest.
    private static void AssertDrawsTone(JsonElement s, double hz)
    {
        Assert.True(s.GetProperty("waveColumns").GetInt32() > 0.95 * s.GetProperty("waveWidth").GetInt32(), s.GetProperty("waveColumns").ToString());
        Assert.True(s.GetProperty("waveInk").GetInt32() > 5000, s.GetProperty("waveInk").ToString());
        double[] rows = [.. s.GetProperty("specRows").EnumerateArray().Select(r => r.GetDouble())];
        int peak = Array.IndexOf(rows, rows.Max());
        double expected = (1 - hz / (RateHz / 2.0)) * rows.Length;
        Assert.True(Math.Abs(peak - expected) <= 0.03 * rows.Length, $"{hz} Hz drawn at row {peak}, expected about {expected:0} of {rows.Length}");
        double median = rows.Order().ElementAt(rows.Length / 2);
        Assert.True(rows[peak] > median + 100, $"peak row level {rows[peak]:0} vs median {median:0}");
    }

    private static async Task<(string?, string?)> LabelOf(WebGateway g, string key)
    {
        long seq = long.Parse(key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        JsonElement l = (await g.GetJsonAsync($"/api/labels?device={Device}")).EnumerateArray().Single(x => x.GetProperty("sequence").GetInt64() == seq);
        return (l.GetProperty("label").GetString(), l.GetProperty("source").GetString());
    }
}

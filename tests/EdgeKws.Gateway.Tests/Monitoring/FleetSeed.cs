using System.Net.Http.Json;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;
using MQTTnet;

namespace EdgeKws.Gateway.Tests.Monitoring;

/// <summary>
/// A small fleet's last 24 hours, ingested through the real pipeline (MQTT publishes to the broker), then labels,
/// cohorts, a baseline and an evaluation posted through the HTTP API:
/// <list type="bullet">
/// <item>dev-a (cohort "lab") and dev-b (cohort <c>field "north"\east</c>, to exercise escaping) run kws-1.0.0, dev-c (no cohort) runs kws-1.1.0;</item>
/// <item>each device: 24 hourly heartbeats ending 1 min, 1 h 1 min, ... ago, 3528 listening seconds each (23.52 h in 24 h);</item>
/// <item>each device: 6 detections at hours 2, 6, 10, 14, 18, 22 ago; sequences 25..30;</item>
/// <item>each device: 24 hourly sketches; kws-1.0.0 devices shift MFCC c2 by +6 in the last 6 hours (drift), kws-1.1.0 does not;</item>
/// <item>labels: dev-a 3 false accepts, 2 true accepts, 1 unknown; dev-b 6 true accepts; dev-c 1 false accept;</item>
/// <item>baselines (unshifted) for both models; an evaluation of kws-1.0.0 with 200 trials and 10 negative hours.</item>
/// </list>
/// </summary>
internal static class FleetSeed
{
    public const string DevA = "dev-a", DevB = "dev-b", DevC = "dev-c";
    public const string ModelOld = "kws-1.0.0", ModelNew = "kws-1.1.0";
    public const string CohortB = "field \"north\"\\east";
    public const double ListeningSecondsPerHeartbeat = 3528;

    public static readonly string[] Devices = [DevA, DevB, DevC];

    public static string ModelOf(string device) => device == DevC ? ModelNew : ModelOld;

    public static async Task<DateTimeOffset> SeedAsync(WebGateway gateway)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (string device in Devices)
        {
            await using RawPublisher pub = await RawPublisher.ConnectAsync(gateway.BrokerPort, device);
            long seq = 0;
            for (int h = 23; h >= 0; h--)
            {
                var hb = new Heartbeat
                {
                    DeviceId = device,
                    DeviceTimeUtc = now.AddHours(-h).AddMinutes(-1),
                    IntervalSeconds = 3600,
                    ListeningSeconds = ListeningSecondsPerHeartbeat,
                    Detections = 0,
                    ModelVersion = ModelOf(device),
                    RssBytes = 10_000_000,
                    UptimeSeconds = (24 - h) * 3600,
                };
                await Publish(pub, device, MessageKind.Heartbeat, WireJson.Serialize(hb), ++seq, null);
            }
            int[] hoursAgo = [22, 18, 14, 10, 6, 2];
            for (int i = 0; i < hoursAgo.Length; i++)
            {
                var d = new DetectionReport
                {
                    DeviceId = device,
                    DeviceTimeUtc = now.AddHours(-hoursAgo[i]),
                    StreamOffsetMs = i * 1000L,
                    Score = 0.6f + (0.05f * i),
                    Keyword = "hey edge",
                    ModelVersion = ModelOf(device),
                    FeatureConfigHash = Wire.ConfigHash,
                };
                await Publish(pub, device, MessageKind.Detection, WireJson.Serialize(d), ++seq, Wire.ConfigHash);
            }
            for (int h = 23; h >= 0; h--)
            {
                float shift = device != DevC && h < 6 ? 6f : 0f;
                DriftSketch s = Sketch(device, ModelOf(device), now.AddHours(-h - 1).AddMinutes(-1), now.AddHours(-h).AddMinutes(-1), seed: (h * 7) + device[^1], shift);
                await Publish(pub, device, MessageKind.DriftSketch, WireJson.Serialize(s), ++seq, Wire.ConfigHash);
            }
        }

        Check(await gateway.SendJsonAsync(HttpMethod.Put, $"/api/devices/{DevA}/cohort", new { cohort = "lab" }));
        Check(await gateway.SendJsonAsync(HttpMethod.Put, $"/api/devices/{DevB}/cohort", new { cohort = CohortB }));
        object[] labels =
        [
            Label(DevA, 25, DetectionLabelKind.FalseAccept), Label(DevA, 26, DetectionLabelKind.FalseAccept), Label(DevA, 27, DetectionLabelKind.FalseAccept),
            Label(DevA, 28, DetectionLabelKind.TrueAccept), Label(DevA, 29, DetectionLabelKind.TrueAccept), Label(DevA, 30, DetectionLabelKind.Unknown),
            .. Enumerable.Range(25, 6).Select(s => Label(DevB, s, DetectionLabelKind.TrueAccept)),
            Label(DevC, 27, DetectionLabelKind.FalseAccept),
        ];
        Check(await gateway.SendJsonAsync(HttpMethod.Post, "/api/labels", labels));
        foreach (string model in new[] { ModelOld, ModelNew })
        {
            DriftSketch baseline = Sketch(null, model, now.AddDays(-30), now.AddDays(-29), seed: 999, shift: 0f, frames: 20_000);
            using var content = new ByteArrayContent(WireJson.Serialize(baseline));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using HttpResponseMessage r = await gateway.Http.PutAsync($"/api/models/{model}/baseline", content);
            Assert.True(r.IsSuccessStatusCode, $"baseline upload: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        }
        var rng = new Random(5);
        var trials = Enumerable.Range(0, 200).Select(i =>
        {
            bool positive = i % 2 == 0;
            double score = Math.Clamp((positive ? 0.75 : 0.3) + ((rng.NextDouble() - 0.5) * 0.6), 0, 1);
            return new { score, positive };
        }).ToArray();
        Check(await gateway.SendJsonAsync(HttpMethod.Post, "/api/evaluations", new { modelVersion = ModelOld, name = "synthetic-200", negativeHours = 10.0, trials }));
        return now;
    }

    public static DriftSketch Sketch(string? device, string model, DateTimeOffset start, DateTimeOffset end, int seed, float shift, int frames = 400)
    {
        var rng = new Random(seed);
        var s = new DriftSketch { DeviceId = device, ModelVersion = model, FeatureConfigHash = Wire.ConfigHash, WindowStartUtc = start, WindowEndUtc = end };
        Span<float> frame = stackalloc float[DriftSketchLayout.CoefficientCount];
        for (int i = 0; i < frames; i++)
        {
            for (int c = 0; c < frame.Length; c++)
            {
                frame[c] = (float)(((rng.NextDouble() + rng.NextDouble() - 1.0) * 10) + (c == 2 ? shift : 0f));
            }
            s.AddMfccFrame(frame);
            s.AddRmsDbfs(-35f + (float)((rng.NextDouble() - 0.5) * 20));
            if (i % 40 == 0)
            {
                s.AddSnrDb(25f + (float)((rng.NextDouble() - 0.5) * 10));
                s.AddScore((float)rng.NextDouble());
            }
        }
        return s;
    }

    private static object Label(string device, long seq, DetectionLabelKind label) =>
        new { deviceId = device, sequence = seq, label, source = "test:fleet-seed" };

    private static async Task Publish(RawPublisher pub, string device, MessageKind kind, byte[] payload, long seq, string? cfg)
    {
        MqttClientPublishReasonCode code = await pub.PublishAsync(Topics.Uplink(device, kind), payload, Wire.Properties(seq, kind, cfg), ContentTypes.Json);
        Assert.Equal(MqttClientPublishReasonCode.Success, code);
    }

    private static void Check((int Status, System.Text.Json.JsonElement Body) r) =>
        Assert.True(r.Status is >= 200 and < 300, $"HTTP {r.Status}: {r.Body}");
}

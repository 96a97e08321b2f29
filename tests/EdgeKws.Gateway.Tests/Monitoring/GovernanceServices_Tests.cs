using System.Text.Json;
using EdgeKws.Gateway.Monitoring;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;

namespace EdgeKws.Gateway.Tests.Monitoring;

/// <summary>Retention, erasure and skew on a running gateway: clips arrive through the embedded broker, the clock is shifted
/// instead of waiting, results are read back through the HTTP API and /metrics.</summary>
public sealed class GovernanceServices_Tests
{
    private const string DevA = "dev-a", DevB = "dev-b";

    private static async Task PublishClip(WebGateway g, string device, long seq, MessageKind kind, byte[] frame, string hash)
    {
        await using RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, device);
        Assert.Equal(MqttClientPublishReasonCode.Success,
            await pub.PublishAsync(Topics.Uplink(device, kind), frame, Wire.Properties(seq, kind, hash), ContentTypes.Clip));
    }

    private static async Task<Dictionary<string, PrometheusParser.Family>> Metrics(WebGateway g) =>
        PrometheusParser.Parse(await g.Http.GetStringAsync("/metrics"));

    [Fact]
    public async Task Retention_deletes_raw_audio_older_than_the_setting_keeps_features_and_counts_it_in_metrics()
    {
        await using WebGateway g = await WebGateway.StartAsync([DevA], "--Gateway:Retention:RawAudioDays=30");
        var id = Guid.NewGuid();
        await PublishClip(g, DevA, 1, MessageKind.ClipAudio, Wire.AudioClip(id, 1600), Wire.ConfigHash);
        await PublishClip(g, DevA, 2, MessageKind.ClipFeatures, Wire.FeatureClip(id, 8), Wire.ConfigHash);
        RetentionService retention = g.App.Services.GetRequiredService<RetentionService>();

        g.Clock.Offset = TimeSpan.FromDays(29);
        Assert.Equal(0, retention.RunOnce());
        g.Clock.Offset = TimeSpan.FromDays(31);
        Assert.Equal(1, retention.RunOnce());

        Assert.Equal(1, g.Service.Store.Count().Clips); // the features stay
        PrometheusParser.Family deleted = (await Metrics(g))["edgekws_retention_raw_audio_deleted_total"];
        Assert.Equal("counter", deleted.Type);
        Assert.Equal(1.0, Assert.Single(deleted.Samples).Value);
    }

    [Fact]
    public async Task Retention_of_zero_days_keeps_raw_audio_forever()
    {
        await using WebGateway g = await WebGateway.StartAsync([DevA], "--Gateway:Retention:RawAudioDays=0");
        await PublishClip(g, DevA, 1, MessageKind.ClipAudio, Wire.AudioClip(Guid.NewGuid(), 1600), Wire.ConfigHash);
        g.Clock.Offset = TimeSpan.FromDays(3650);
        Assert.Equal(0, g.App.Services.GetRequiredService<RetentionService>().RunOnce());
        Assert.Equal(1, g.Service.Store.Count().Clips);
    }

    [Fact]
    public async Task Skew_is_zero_for_an_identical_front_end_and_a_perturbed_device_frame_raises_a_warning()
    {
        await using WebGateway g = await WebGateway.StartAsync([DevA, DevB]);
        string hash = MfccConfig.Default.FeatureConfigHash;
        short[] pcm = SkewClips.Audio();
        float[] features = SkewClips.Features(pcm);
        Guid same = Guid.NewGuid(), perturbed = Guid.NewGuid();
        await PublishClip(g, DevA, 1, MessageKind.ClipAudio, SkewClips.AudioFrame(same, pcm), hash);
        await PublishClip(g, DevA, 2, MessageKind.ClipFeatures, SkewClips.FeaturesFrame(same, features), hash);
        float[] off = (float[])features.Clone();
        off[(10 * 13) + 5] += 0.5f;
        await PublishClip(g, DevB, 1, MessageKind.ClipAudio, SkewClips.AudioFrame(perturbed, pcm), hash);
        await PublishClip(g, DevB, 2, MessageKind.ClipFeatures, SkewClips.FeaturesFrame(perturbed, off), hash);

        g.App.Services.GetRequiredService<SkewService>().CheckOnce();
        g.Alerts.EvaluateOnce();

        SkewResult a = Assert.Single(g.Service.Store.ReadSkewResults(DevA, 10));
        SkewResult b = Assert.Single(g.Service.Store.ReadSkewResults(DevB, 10));
        Assert.Equal((SkewStatus.Compared, 0.0, 0.0), (a.Status, a.MaxAbsDifference, a.MaxRelativeDifference));
        Assert.Equal((SkewStatus.Compared, 10), (b.Status, b.WorstFrame));
        Assert.Equal(0.5, b.MaxAbsDifference, 1e-6);
        Assert.True(b.MaxRelativeDifference > 1e-3, $"relative {b.MaxRelativeDifference}");

        AlertRecord alert = Assert.Single(g.Service.Store.ReadAlerts(activeOnly: true, 100), x => x.Kind == "skew");
        Assert.Equal(("skew/device/dev-b", AlertSeverity.Warning, "device:dev-b"), (alert.Key, alert.Severity, alert.Subject));
        Assert.Contains("1 of 1 clips differ", alert.Message, StringComparison.Ordinal);

        JsonElement evidence = await g.GetJsonAsync(alert.EvidenceUrl);
        Assert.Equal(hash, evidence.GetProperty("frontEndConfigHash").GetString());
        JsonElement device = Assert.Single(evidence.GetProperty("devices").EnumerateArray());
        Assert.Equal((DevB, 1), (device.GetProperty("deviceId").GetString(), device.GetProperty("overLimit").GetInt32()));

        PrometheusParser.Family gauge = (await Metrics(g))["edgekws_feature_skew_max_relative"];
        Assert.Equal("gauge", gauge.Type);
        Assert.Equal(0.0, gauge.Samples.Single(s => s.Labels["device"] == DevA).Value);
        Assert.Equal(b.MaxRelativeDifference, gauge.Samples.Single(s => s.Labels["device"] == DevB).Value, 1e-9);

        // A clip checked once is not checked again.
        Assert.Empty(g.App.Services.GetRequiredService<SkewService>().CheckOnce());
    }

    [Fact]
    public async Task Erasing_a_device_over_http_returns_counts_is_idempotent_and_revokes_the_credential_unless_kept()
    {
        await using WebGateway g = await WebGateway.StartAsync([DevA, DevB]);
        Guid a = Guid.NewGuid(), b = Guid.NewGuid();
        await PublishClip(g, DevA, 1, MessageKind.ClipAudio, Wire.AudioClip(a, 1600), Wire.ConfigHash);
        await PublishClip(g, DevA, 2, MessageKind.ClipFeatures, Wire.FeatureClip(a, 8), Wire.ConfigHash);
        await PublishClip(g, DevB, 1, MessageKind.ClipFeatures, Wire.FeatureClip(b, 8), Wire.ConfigHash);
        g.Service.Store.AddDatasetMembers("ds-1", [new DatasetMember(DevA, a.ToString("D")), new DatasetMember(DevB, b.ToString("D"))]);
        g.Service.Store.RecordModelDataset("kws-3.0.0", "ds-1");

        (int status, JsonElement body) = await Delete(g, $"/api/devices/{DevA}/data");
        Assert.Equal(200, status);
        JsonElement erased = body.GetProperty("erased");
        Assert.Equal((1, 1, 1, 1, true), (erased.GetProperty("audioClips").GetInt32(), erased.GetProperty("featureClips").GetInt32(),
            erased.GetProperty("datasetMemberships").GetInt32(), erased.GetProperty("modelsTainted").GetInt32(), erased.GetProperty("credentialRevoked").GetBoolean()));
        Assert.False(g.Service.Store.TryGetDeviceCredential(DevA, out _));
        // The erased device can no longer connect.
        await using (var refused = new RawPublisher())
        {
            Assert.NotEqual(MqttClientConnectResultCode.Success, (await refused.TryConnectAsync(g.BrokerPort, DevA, InProcessGateway.Password)).ResultCode);
        }
        JsonElement taint = Assert.Single((await g.GetJsonAsync("/api/models/taints")).EnumerateArray());
        Assert.Equal("trained on erased device dev-a (dataset ds-1)", taint.GetProperty("reason").GetString());

        (status, body) = await Delete(g, $"/api/devices/{DevA}/data");
        Assert.Equal(200, status);
        Assert.All(body.GetProperty("erased").EnumerateObject(), p => Assert.True(p.Value.ValueKind is JsonValueKind.False || p.Value.GetInt64() == 0, p.Name));

        (status, body) = await Delete(g, $"/api/devices/{DevB}/data?keepCredential=true");
        Assert.Equal((200, 1), (status, body.GetProperty("erased").GetProperty("featureClips").GetInt32()));
        Assert.True(g.Service.Store.TryGetDeviceCredential(DevB, out _));

        (status, body) = await Delete(g, "/api/devices/dev-zz/data");
        Assert.Equal(404, status);
        Assert.Equal("device 'dev-zz' is unknown", body.GetProperty("error").GetString());
    }

    private static async Task<(int Status, JsonElement Body)> Delete(WebGateway g, string path)
    {
        using HttpResponseMessage r = await g.Http.DeleteAsync(path);
        string text = await r.Content.ReadAsStringAsync();
        return ((int)r.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }
}

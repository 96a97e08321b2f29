using System.Text.Json;
using EdgeKws.Gateway.Storage;
using EdgeKws.Gateway.Tests.Api;
using EdgeKws.Shared.Contracts;
using MQTTnet;
using static EdgeKws.Gateway.Tests.Monitoring.FleetSeed;

namespace EdgeKws.Gateway.Tests.Monitoring;

/// <summary>Alert rules on a gateway seeded through the real ingest path; the clock is shifted instead of waiting.</summary>
public sealed class AlertRules_Tests
{
    private static AlertRecord[] Active(WebGateway g) => g.Service.Store.ReadAlerts(activeOnly: true, 100).ToArray();

    [Fact]
    public async Task Raises_no_data_for_each_silent_device_and_the_fleet_then_resolves_when_data_returns()
    {
        await using WebGateway g = await WebGateway.StartAsync(Devices, "--Gateway:Monitoring:FaPerHourBudget=100");
        await SeedAsync(g);
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind == "no-data");

        // Six minutes after dev-a's last message (the other devices' last messages came a little later: over five minutes too).
        // Relative to that message rather than to the real now: on a loaded machine the rest of the seeding can take a
        // while, and "6 min" and the since time are about the device's silence, not about how long the seeding took.
        DateTimeOffset lastSeenA = g.Service.Store.ReadDevices().Single(d => d.DeviceId == DevA).LastSeenUtc!.Value;
        g.Clock.Offset = lastSeenA + TimeSpan.FromMinutes(6) - DateTimeOffset.UtcNow;
        g.Alerts.EvaluateOnce();
        g.Alerts.EvaluateOnce(); // a second evaluation must not duplicate anything
        AlertRecord[] noData = Active(g).Where(a => a.Kind == "no-data").OrderBy(a => a.Key, StringComparer.Ordinal).ToArray();
        Assert.Equal(["no-data/device/dev-a", "no-data/device/dev-b", "no-data/device/dev-c", "no-data/fleet"], noData.Select(a => a.Key));
        Assert.All(noData, a => Assert.Equal(AlertSeverity.Critical, a.Severity));
        AlertRecord devA = noData[0];
        Assert.Equal("device:dev-a", devA.Subject);
        Assert.Contains("has sent nothing for 6", devA.Message, StringComparison.Ordinal);
        Assert.True(Math.Abs((devA.SinceUtc - lastSeenA).TotalSeconds) < 1, $"since {devA.SinceUtc:O} = the device's last message {lastSeenA:O}");
        // The evidence link works.
        JsonElement evidence = await g.GetJsonAsync(devA.EvidenceUrl);
        Assert.Equal("dev-a", evidence.GetProperty("device").GetProperty("deviceId").GetString());
        JsonElement api = await g.GetJsonAsync("/api/alerts?active=true");
        Assert.Equal(4, api.EnumerateArray().Count(a => a.GetProperty("kind").GetString() == "no-data"));

        // Data returns (a real heartbeat through the broker) and the clock is back at real time: every no-data condition clears.
        g.Clock.Offset = TimeSpan.Zero;
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, DevA))
        {
            var hb = new Heartbeat { DeviceId = DevA, DeviceTimeUtc = DateTimeOffset.UtcNow, IntervalSeconds = 60, ListeningSeconds = 60, ModelVersion = ModelOld };
            Assert.Equal(MqttClientPublishReasonCode.Success,
                await pub.PublishAsync(Topics.Uplink(DevA, MessageKind.Heartbeat), WireJson.Serialize(hb), Wire.Properties(100, MessageKind.Heartbeat, null)));
        }
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind == "no-data");
        AlertRecord resolved = g.Service.Store.ReadAlerts(activeOnly: false, 100).Single(a => a.Key == "no-data/device/dev-a");
        Assert.Equal(devA.Id, resolved.Id);
        Assert.NotNull(resolved.ResolvedUtc);
        Assert.Equal(4, g.Service.Store.ReadAlerts(activeOnly: false, 100).Count(a => a.Kind == "no-data"));

        // Silent again: a new alert opens (a resolved one is history, not reopened).
        g.Clock.Offset = TimeSpan.FromMinutes(7);
        g.Alerts.EvaluateOnce();
        AlertRecord reopened = Assert.Single(Active(g), a => a.Key == "no-data/device/dev-a");
        Assert.NotEqual(devA.Id, reopened.Id);
    }

    [Fact]
    public async Task Raises_fa_budget_for_the_device_over_budget_only()
    {
        // dev-a: 3 FA in 23.52 h = 0.128 FA/h; dev-c: 0.043; model kws-1.0.0: 0.064. Budget 0.1.
        await using WebGateway g = await WebGateway.StartAsync(Devices, "--Gateway:Monitoring:FaPerHourBudget=0.1");
        await SeedAsync(g);
        g.Alerts.EvaluateOnce();
        AlertRecord fa = Assert.Single(Active(g), a => a.Kind == "fa-budget");
        Assert.Equal("fa-budget/device/dev-a", fa.Key);
        Assert.Equal(AlertSeverity.Critical, fa.Severity);
        Assert.Contains("0.128 FA/h over 24h (3 false accepts in 23.52 listening hours), budget 0.1 FA/h", fa.Message, StringComparison.Ordinal);
        // The message states the range: dev-a's Unknown detection could be a fourth false accept (4 / 23.52 = 0.17).
        Assert.EndsWith("; range 0.128 – 0.17 FA/h (1 pending review)", fa.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Active(g), a => a.Kind == "fa-budget-pending"); // the decided value fires: no second alert for the same group
        JsonElement evidence = await g.GetJsonAsync(fa.EvidenceUrl);
        Assert.Equal("Device", evidence.GetProperty("by").GetString());

        // Relabelling dev-a's false accepts as true accepts clears the condition and resolves the alert.
        (int status, _) = await g.SendJsonAsync(HttpMethod.Post, "/api/labels",
            new[] { 25, 26 }.Select(s => new { deviceId = DevA, sequence = s, label = "TrueAccept", source = "human:reviewer" }).ToArray());
        Assert.Equal(200, status);
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind == "fa-budget");
    }

    [Fact]
    public async Task Warns_that_fa_per_hour_may_exceed_the_budget_while_clips_wait_for_review_as_its_own_alert_kind()
    {
        // Budget 0.15: dev-a's decided 3 / 23.52 = 0.128 is under it, its upper end 4 / 23.52 = 0.17 (the Unknown detection seq 30)
        // is over it. kws-1.0.0: 0.064 - 0.085, under. dev-c: 0.043, nothing pending.
        await using WebGateway g = await WebGateway.StartAsync(Devices, "--Gateway:Monitoring:FaPerHourBudget=0.15");
        await SeedAsync(g);
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind == "fa-budget");
        AlertRecord pending = Assert.Single(Active(g), a => a.Kind == "fa-budget-pending");
        Assert.Equal("fa-budget-pending/device/dev-a", pending.Key);
        Assert.Equal(AlertSeverity.Warning, pending.Severity);
        Assert.Equal("device:dev-a", pending.Subject);
        Assert.Equal("device dev-a: FA/hour may exceed 0.15 FA/h: 1 clip waiting for review; range 0.128 – 0.17 FA/h (1 pending review) over 24h "
            + "(3 decided false accepts in 23.52 listening hours)", pending.Message);
        Assert.Equal("Device", (await g.GetJsonAsync(pending.EvidenceUrl)).GetProperty("by").GetString());

        // Reviewed as a true accept: the upper end falls to the decided value and the warning resolves.
        (int status, _) = await g.SendJsonAsync(HttpMethod.Post, "/api/labels", new[] { new { deviceId = DevA, sequence = 30, label = "TrueAccept", source = "human:reviewer" } });
        Assert.Equal(200, status);
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind is "fa-budget-pending" or "fa-budget");
        Assert.NotNull(g.Service.Store.ReadAlerts(activeOnly: false, 100).Single(a => a.Id == pending.Id).ResolvedUtc);

        // Decided a false accept instead: 4 / 23.52 = 0.17 decided, over the budget: the critical fa-budget alert, range closed.
        (status, _) = await g.SendJsonAsync(HttpMethod.Post, "/api/labels", new[] { new { deviceId = DevA, sequence = 30, label = "FalseAccept", source = "human:reviewer" } });
        Assert.Equal(200, status);
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind == "fa-budget-pending");
        AlertRecord fa = Assert.Single(Active(g), a => a.Kind == "fa-budget");
        Assert.Equal("device dev-a: 0.17 FA/h over 24h (4 false accepts in 23.52 listening hours), budget 0.15 FA/h; range 0.17 – 0.17 FA/h (0 pending review)", fa.Message);
    }

    [Fact]
    public async Task Raises_a_drift_warning_for_the_shifted_model_with_the_worst_feature_named()
    {
        await using WebGateway g = await WebGateway.StartAsync(Devices, "--Gateway:Monitoring:FaPerHourBudget=100");
        await SeedAsync(g);
        g.Alerts.EvaluateOnce();
        AlertRecord drift = Assert.Single(Active(g), a => a.Key == "drift/model/kws-1.0.0");
        Assert.Equal(AlertSeverity.Warning, drift.Severity);
        Assert.Contains("mfcc2 PSI", drift.Message, StringComparison.Ordinal);
        Assert.StartsWith("/api/metrics/drift?window=24h&model=kws-1.0.0", drift.EvidenceUrl, StringComparison.Ordinal);
        JsonElement evidence = await g.GetJsonAsync(drift.EvidenceUrl);
        Assert.NotEqual("None", evidence.GetProperty("models")[0].GetProperty("report").GetProperty("level").GetString());
    }

    [Fact]
    public async Task Raises_error_rate_and_throughput_warnings_from_ingest_counts()
    {
        // Baseline throughput set high (1000 msg/min): the seeded 162 messages in 5 min are far below 80 % of it.
        await using WebGateway g = await WebGateway.StartAsync(Devices, "--Gateway:Monitoring:FaPerHourBudget=100", "--Gateway:Monitoring:ThroughputBaselinePerMinute=1000");
        await SeedAsync(g);
        g.Alerts.EvaluateOnce();
        Assert.DoesNotContain(Active(g), a => a.Kind == "error-rate");
        Assert.Contains(Active(g), a => a.Key == "throughput/fleet" && a.Message.Contains("below 80 % of the baseline 1000 msg/min", StringComparison.Ordinal));

        // 12 malformed messages: 12 / (162 + 12) = 6.9 % quarantined > 5 %.
        await using (RawPublisher pub = await RawPublisher.ConnectAsync(g.BrokerPort, DevB))
        {
            for (int i = 0; i < 12; i++)
            {
                Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid,
                    await pub.PublishAsync(Topics.Uplink(DevB, MessageKind.Detection), "{not json"u8.ToArray(), Wire.Properties(500 + i, MessageKind.Detection, Wire.ConfigHash)));
            }
        }
        g.Alerts.EvaluateOnce();
        AlertRecord err = Assert.Single(Active(g), a => a.Kind == "error-rate");
        Assert.Equal(AlertSeverity.Warning, err.Severity);
        Assert.True(err.Message.Contains("(12 of 174)", StringComparison.Ordinal), err.Message);
        Assert.Equal(12, (await g.GetJsonAsync(err.EvidenceUrl)).GetArrayLength());
    }
}

using System.Globalization;
using EdgeKws.Device.Tests.Listening;

namespace EdgeKws.Agent.Tests;

internal static class AgentTestKit
{
    public static string Model => ListeningTestKit.ModelManifest;

    /// <summary>Writes an agent.json; <paramref name="extra"/> is spliced into the top-level object.</summary>
    public static string WriteConfig(string dir, string deviceId, int mqttPort, string extra = "", int heartbeatSeconds = 60,
        bool consent = false, long quotaBytes = 32L * 1024 * 1024, bool realTime = true)
    {
        string path = Path.Combine(dir, "agent.json");
        File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture, $$"""
            {
              // comments are allowed
              "DeviceId": "{{deviceId}}",
              "StateDirectory": "{{Path.Combine(dir, "state")}}",
              "Audio": { "Source": "wav", "WavPath": "{{Path.Combine(dir, "none.wav")}}", "RealTime": {{(realTime ? "true" : "false")}} },
              "Detection": { "PreTriggerMs": 1000, "PostTriggerMs": 500 },
              "Outbox": { "QuotaBytes": {{quotaBytes}} },
              "Privacy": { "UploadRawAudio": {{(consent ? "true" : "false")}} },
              "Mqtt": { "Host": "127.0.0.1", "Port": {{mqttPort}}, "HeartbeatSeconds": {{heartbeatSeconds}}, "MaxBackoffSeconds": 1 }{{extra}}
            }
            """));
        // The config names a WAV that exists; tests replace it with --wav.
        ListeningTestKit.WriteWav(Path.Combine(dir, "none.wav"), new short[1600]);
        return path;
    }

    public static string StatePath(string dir) => Path.Combine(dir, "state");
}

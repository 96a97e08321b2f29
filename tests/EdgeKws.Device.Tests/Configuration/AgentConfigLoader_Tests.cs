using System.Collections;
using EdgeKws.Device.Configuration;

namespace EdgeKws.Device.Tests.Configuration;

public sealed class AgentConfigLoader_Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgekws-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteJson(string json)
    {
        string path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static Hashtable Env(params (string Key, string Value)[] pairs)
    {
        var env = new Hashtable();
        foreach (var (k, v) in pairs) env[k] = v;
        return env;
    }

    [Fact]
    public void Loads_a_valid_file_with_defaults_for_missing_keys()
    {
        string path = WriteJson("""{ "DeviceId": "kitchen-1", "Audio": { "Source": "stdin" } }""");

        Assert.True(AgentConfigLoader.TryLoad(path, Env(), out var config, out var errors), string.Join("; ", errors));
        Assert.Equal("kitchen-1", config.DeviceId);
        Assert.Equal("stdin", config.Audio.Source);
        Assert.Equal(320, config.Audio.PeriodFrames);
        Assert.False(config.Privacy.UploadRawAudio);
    }

    [Fact]
    public void Environment_overrides_the_file_case_insensitively()
    {
        string path = WriteJson("""{ "DeviceId": "kitchen-1", "Audio": { "Source": "stdin" }, "Mqtt": { "Port": 1883 } }""");

        Assert.True(AgentConfigLoader.TryLoad(path, Env(("EDGEKWS_Mqtt__Port", "8883"), ("edgekws_mqtt__host", "broker.lan"), ("EDGEKWS_Privacy__UploadRawAudio", "true"), ("OTHER", "x")),
            out var config, out var errors), string.Join("; ", errors));
        Assert.Equal(8883, config.Mqtt.Port);
        Assert.Equal("broker.lan", config.Mqtt.Host);
        Assert.True(config.Privacy.UploadRawAudio);
    }

    [Fact]
    public void Bad_values_are_refused_with_the_key_and_the_reason()
    {
        string path = WriteJson("""{ "DeviceId": "bad id/1", "Audio": { "Source": "mic", "PeriodFrames": 5 }, "Mqtt": { "Port": 70000 } }""");

        Assert.False(AgentConfigLoader.TryLoad(path, Env(), out _, out var errors));
        Assert.Contains(errors, e => e.StartsWith("DeviceId:", StringComparison.Ordinal) && e.Contains("bad id/1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Audio.Source:", StringComparison.Ordinal) && e.Contains("'mic'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Audio.PeriodFrames:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Mqtt.Port:", StringComparison.Ordinal) && e.Contains("70000", StringComparison.Ordinal));
    }

    [Fact]
    public void A_bad_environment_value_names_the_variable()
    {
        string path = WriteJson("""{ "DeviceId": "d1", "Audio": { "Source": "stdin" } }""");

        Assert.False(AgentConfigLoader.TryLoad(path, Env(("EDGEKWS_Mqtt__Port", "eighty")), out _, out var errors));
        var error = Assert.Single(errors);
        Assert.Contains("EDGEKWS_Mqtt__Port", error, StringComparison.Ordinal);
        Assert.Contains("'eighty' is not a whole number", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_environment_key_is_an_error_not_a_silent_no_op()
    {
        Assert.False(AgentConfigLoader.TryLoad(null, Env(("EDGEKWS_DeviceId", "d1"), ("EDGEKWS_Audio__Source", "stdin"), ("EDGEKWS_Mqtt__Hots", "x")), out _, out var errors));
        Assert.Contains(errors, e => e.Contains("Mqtt.Hots", StringComparison.Ordinal) && e.Contains("unknown key", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_json_keys_and_malformed_json_are_refused_with_the_path()
    {
        string path = WriteJson("""{ "DeviceId": "d1", "Mqtt": { "Hots": "x" } }""");
        Assert.False(AgentConfigLoader.TryLoad(path, Env(), out _, out var errors));
        Assert.Contains(errors, e => e.Contains("Hots", StringComparison.Ordinal));

        path = WriteJson("""{ "DeviceId": "d1", "Mqtt": { "Port": "x" } }""");
        Assert.False(AgentConfigLoader.TryLoad(path, Env(), out _, out errors));
        Assert.Contains(errors, e => e.Contains("$.Mqtt.Port", StringComparison.Ordinal));
    }

    [Fact]
    public void Wav_source_needs_an_existing_file()
    {
        Assert.False(AgentConfigLoader.TryLoad(null, Env(("EDGEKWS_DeviceId", "d1"), ("EDGEKWS_Audio__Source", "wav")), out _, out var errors));
        Assert.Contains(errors, e => e.StartsWith("Audio.WavPath: is required", StringComparison.Ordinal));

        Assert.False(AgentConfigLoader.TryLoad(null, Env(("EDGEKWS_DeviceId", "d1"), ("EDGEKWS_Audio__Source", "wav"), ("EDGEKWS_Audio__WavPath", Path.Combine(_dir, "none.wav"))), out _, out errors));
        Assert.Contains(errors, e => e.StartsWith("Audio.WavPath: file", StringComparison.Ordinal) && e.Contains("does not exist", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_config_file_is_reported()
    {
        Assert.False(AgentConfigLoader.TryLoad(Path.Combine(_dir, "nope.json"), Env(), out _, out var errors));
        Assert.Contains("not found", Assert.Single(errors), StringComparison.Ordinal);
    }
}

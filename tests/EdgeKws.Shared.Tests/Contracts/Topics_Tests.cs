using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Tests.Contracts;

public class Topics_Tests
{
    [Theory]
    [InlineData("dev-001")]
    [InlineData("A_b-9")]
    [InlineData("x")]
    public void Accepts_device_ids_of_allowed_characters(string id)
    {
        Assert.True(Topics.TryValidateDeviceId(id, out string reason), reason);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("dev/1", "'/'")]
    [InlineData("dev+", "'+'")]
    [InlineData("dev#", "'#'")]
    [InlineData("$SYS", "'$'")]
    [InlineData("dev 1", "' '")]
    [InlineData("dév", "'é'")]
    [InlineData("dev.1", "'.'")]
    public void Rejects_device_ids_with_disallowed_characters_naming_the_character(string id, string expected)
    {
        Assert.False(Topics.TryValidateDeviceId(id, out string reason));
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_device_ids_longer_than_64_characters()
    {
        Assert.True(Topics.TryValidateDeviceId(new string('a', 64), out _));
        Assert.False(Topics.TryValidateDeviceId(new string('a', 65), out string reason));
        Assert.Contains("65", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Builds_the_uplink_and_command_topics_of_the_one_scheme()
    {
        Assert.Equal("edgekws/v1/dev-001/detection", Topics.Uplink("dev-001", MessageKind.Detection));
        Assert.Equal("edgekws/v1/dev-001/clip-audio", Topics.Uplink("dev-001", MessageKind.ClipAudio));
        Assert.Equal("edgekws/v1/dev-001/cmd/model-update", Topics.Command("dev-001", "model-update"));
        Assert.Equal("edgekws/v1/dev-001/cmd/#", Topics.CommandFilter("dev-001"));
        Assert.Equal("edgekws/v1/+/+", Topics.AllUplinkFilter);
    }

    [Fact]
    public void Throws_a_specific_error_when_building_a_topic_for_an_invalid_device_id()
    {
        var ex = Assert.Throws<ArgumentException>(() => Topics.Uplink("a/b", MessageKind.Heartbeat));
        Assert.Contains("'/'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parses_every_kind_back_from_its_uplink_topic()
    {
        foreach (MessageKind kind in Enum.GetValues<MessageKind>())
        {
            string topic = Topics.Uplink("dev-9", kind);
            Assert.True(Topics.TryParseUplink(topic, out string id, out MessageKind parsed, out string reason), reason);
            Assert.Equal("dev-9", id);
            Assert.Equal(kind, parsed);
        }
    }

    [Theory]
    [InlineData("other/v1/dev/detection", "not under")]
    [InlineData("edgekws/v1/dev/detection/extra", "not 'edgekws/v1/{deviceId}/{kind}'")]
    [InlineData("edgekws/v1/dev/unknown", "unknown kind")]
    [InlineData("edgekws/v1/d+v/detection", "'+'")]
    [InlineData("edgekws/v1/dev/cmd/x", "not 'edgekws/v1/{deviceId}/{kind}'")]
    public void Rejects_topics_outside_the_uplink_scheme_with_a_reason(string topic, string expected)
    {
        Assert.False(Topics.TryParseUplink(topic, out _, out _, out string reason));
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }
}

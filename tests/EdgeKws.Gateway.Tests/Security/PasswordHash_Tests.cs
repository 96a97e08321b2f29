using System.Text;
using EdgeKws.Gateway.Security;

namespace EdgeKws.Gateway.Tests.Security;

public sealed class PasswordHash_Tests
{
    [Fact]
    public void Verifies_the_right_password_only_and_salts_every_credential()
    {
        PasswordHash a = PasswordHash.Create("device-password-1", iterations: 1_000);
        PasswordHash b = PasswordHash.Create("device-password-1", iterations: 1_000);

        Assert.True(a.Verify(Encoding.UTF8.GetBytes("device-password-1")));
        Assert.False(a.Verify(Encoding.UTF8.GetBytes("device-password-2")));
        Assert.False(a.Verify([]));
        Assert.NotEqual(a.Salt, b.Salt);
        Assert.NotEqual(a.Hash, b.Hash);
    }

    [Fact]
    public void Refuses_a_short_password_with_a_clear_message()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => PasswordHash.Create("short"));
        Assert.StartsWith("device password is 5 characters, at least 12 are required", ex.Message, StringComparison.Ordinal);
    }
}

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

    [Fact]
    public void Formats_a_Mosquitto_7_line_that_mosquitto_passwd_layout_matches_and_refuses_legacy_credentials()
    {
        PasswordHash h = PasswordHash.Create("device-password-1", iterations: 1_000);
        Assert.True(h.TryFormatMosquittoLine("dev-1", out string line, out _));
        string[] parts = line.Split('$');
        Assert.Equal(("dev-1:", "7", "1000"), (parts[0], parts[1], parts[2]));
        Assert.Equal(h.Salt, Convert.FromBase64String(parts[3]));
        Assert.Equal(12, Convert.FromBase64String(parts[3]).Length); // Mosquitto 2 accepts only 12-byte salts
        Assert.Equal(64, Convert.FromBase64String(parts[4]).Length);

        // A first-slice credential (PBKDF2-HMAC-SHA256, 16-byte salt) still verifies but cannot be exported.
        byte[] salt = new byte[16];
        var legacy = new PasswordHash(salt, System.Security.Cryptography.Rfc2898DeriveBytes.Pbkdf2("device-password-1"u8, salt, 1_000,
            System.Security.Cryptography.HashAlgorithmName.SHA256, 32), 1_000);
        Assert.True(legacy.Verify(Encoding.UTF8.GetBytes("device-password-1")));
        Assert.False(legacy.TryFormatMosquittoLine("dev-1", out _, out string why));
        Assert.Contains("provision the device again", why, StringComparison.Ordinal);
    }
}

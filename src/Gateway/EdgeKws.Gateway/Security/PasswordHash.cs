using System.Security.Cryptography;
using System.Text;

namespace EdgeKws.Gateway.Security;

/// <summary>A stored device credential: PBKDF2-HMAC-SHA256 with a per-device random salt.</summary>
/// <param name="Salt">16 random bytes.</param>
/// <param name="Hash">32 derived bytes.</param>
/// <param name="Iterations">PBKDF2 iterations used for this credential (stored per row so the default can rise without invalidating old rows).</param>
public sealed record PasswordHash(byte[] Salt, byte[] Hash, int Iterations)
{
    /// <summary>Iterations for new credentials. Device passwords are random tokens, not human choices, so the count
    /// guards against a stolen database more than against guessing; 100,000 costs ~30 ms per CONNECT here.</summary>
    public const int DefaultIterations = 100_000;

    /// <summary>Bytes of salt.</summary>
    public const int SaltBytes = 16;

    /// <summary>Bytes of derived key.</summary>
    public const int HashBytes = 32;

    /// <summary>Shortest password accepted when provisioning a device.</summary>
    public const int MinPasswordLength = 12;

    /// <summary>Hashes <paramref name="password"/> with a fresh salt.</summary>
    /// <exception cref="ArgumentException">When the password is shorter than <see cref="MinPasswordLength"/>.</exception>
    public static PasswordHash Create(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length < MinPasswordLength)
        {
            throw new ArgumentException($"device password is {password.Length} characters, at least {MinPasswordLength} are required", nameof(password));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        byte[] salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return new PasswordHash(salt, Derive(password, salt, iterations), iterations);
    }

    /// <summary>True when <paramref name="password"/> matches; constant-time comparison of the derived keys.</summary>
    public bool Verify(ReadOnlySpan<byte> passwordUtf8)
    {
        byte[] derived = Rfc2898DeriveBytes.Pbkdf2(passwordUtf8, Salt, Iterations, HashAlgorithmName.SHA256, HashBytes);
        return CryptographicOperations.FixedTimeEquals(derived, Hash);
    }

    private static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
}

using System.Security.Cryptography;
using System.Text;

namespace EdgeKws.Gateway.Security;

/// <summary>A stored device credential: PBKDF2 with a per-device random salt. New credentials use HMAC-SHA512 with a
/// 64-byte key, the scheme Mosquitto's password file calls <c>$7$</c>, so the same credential can be exported to an
/// external broker (<see cref="TryFormatMosquittoLine"/>) without knowing the password. Credentials made by the first
/// gateway slice (HMAC-SHA256, 32-byte key) still verify: the key length tells the two apart.</summary>
/// <param name="Salt">12 random bytes (16 in legacy credentials).</param>
/// <param name="Hash">64 derived bytes (PBKDF2-HMAC-SHA512), or 32 for a legacy PBKDF2-HMAC-SHA256 credential.</param>
/// <param name="Iterations">PBKDF2 iterations used for this credential (stored per row so the default can rise without invalidating old rows).</param>
public sealed record PasswordHash(byte[] Salt, byte[] Hash, int Iterations)
{
    /// <summary>Iterations for new credentials. Device passwords are random tokens, not human choices, so the count
    /// guards against a stolen database more than against guessing; 100,000 costs ~30 ms per CONNECT here.</summary>
    public const int DefaultIterations = 100_000;

    /// <summary>Bytes of salt: Mosquitto 2 accepts exactly 12 in a <c>$7$</c> line. 96 random bits still give every
    /// credential its own salt, which is what the salt is for.</summary>
    public const int SaltBytes = 12;

    /// <summary>Bytes of derived key (PBKDF2-HMAC-SHA512).</summary>
    public const int HashBytes = 64;

    /// <summary>Bytes of derived key of a legacy PBKDF2-HMAC-SHA256 credential.</summary>
    public const int LegacySha256HashBytes = 32;

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
        return new PasswordHash(salt, Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, HashBytes), iterations);
    }

    /// <summary>True when <paramref name="password"/> matches; constant-time comparison of the derived keys.</summary>
    public bool Verify(ReadOnlySpan<byte> passwordUtf8)
    {
        HashAlgorithmName algorithm = Hash.Length == LegacySha256HashBytes ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA512;
        byte[] derived = Rfc2898DeriveBytes.Pbkdf2(passwordUtf8, Salt, Iterations, algorithm, Hash.Length);
        return CryptographicOperations.FixedTimeEquals(derived, Hash);
    }

    /// <summary>The credential as a line of a Mosquitto 2 password file (<c>user:$7$iterations$salt$hash</c>, base64), or
    /// false with the reason for a legacy SHA-256 credential, which Mosquitto cannot check (re-provision the device).</summary>
    public bool TryFormatMosquittoLine(string userName, out string line, out string reason)
    {
        ArgumentNullException.ThrowIfNull(userName);
        if (Hash.Length != HashBytes || Salt.Length != SaltBytes)
        {
            line = string.Empty;
            reason = $"credential of '{userName}' is a legacy one (PBKDF2-HMAC-SHA256 or a 16-byte salt, from the first gateway slice); Mosquitto checks only PBKDF2-HMAC-SHA512 with a 12-byte salt: provision the device again";
            return false;
        }
        line = $"{userName}:$7${Iterations}${Convert.ToBase64String(Salt)}${Convert.ToBase64String(Hash)}";
        reason = string.Empty;
        return true;
    }
}

using System.Security.Cryptography;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Diagnostics;

namespace EdgeKws.Shared.Tests.Contracts;

public class FeatureConfigHash_Tests
{
    // FIPS 180-2 test vector: SHA-256("abc").
    private const string AbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    [Fact]
    public void Formats_a_sha256_as_64_lowercase_hex_digits_and_parses_back()
    {
        byte[] digest = SHA256.HashData("abc"u8);
        string text = FeatureConfigHash.Format(digest);
        Assert.Equal(AbcSha256, text);
        Assert.Equal(FeatureConfigHash.TextLength, text.Length);
        Assert.True(FeatureConfigHash.IsValid(text));

        var parsed = new byte[FeatureConfigHash.ByteLength];
        Assert.True(FeatureConfigHash.TryParse(text, parsed));
        Assert.Equal(digest, parsed);
    }

    [Theory]
    [InlineData("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")] // uppercase
    [InlineData("Ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")] // one uppercase digit
    [InlineData("0123456789abcdef")] // the old 64-bit form
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a")] // 63 digits
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0")] // 65 digits
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag")] // not hex
    [InlineData(" a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")] // whitespace
    [InlineData("")]
    [InlineData(null)]
    public void Rejects_other_spellings_so_one_hash_has_one_text(string? text)
    {
        Assert.False(FeatureConfigHash.IsValid(text));
        Assert.False(FeatureConfigHash.TryParse(text, new byte[FeatureConfigHash.ByteLength]));
        Assert.False(FeatureConfigHash.TryValidate(text, "cfg", out string reason));
        Assert.StartsWith("cfg ", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_says_what_is_wrong_with_an_old_or_uppercase_hash()
    {
        Assert.True(FeatureConfigHash.TryValidate(AbcSha256, "featureConfigHash", out string ok), ok);
        Assert.Equal(string.Empty, ok);

        Assert.False(FeatureConfigHash.TryValidate("0123456789abcdef", "featureConfigHash", out string reason));
        Assert.Equal("featureConfigHash must be the SHA-256 as 64 lowercase hex digits, got 16 characters '0123456789abcdef'", reason);

        Assert.False(FeatureConfigHash.TryValidate(AbcSha256.ToUpperInvariant(), "featureConfigHash", out reason));
        Assert.StartsWith("featureConfigHash must be 64 lowercase hex digits, got 'B' at position 0 of 'BA7816", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_digest_or_destination_of_the_wrong_size_as_a_caller_error()
    {
        var ex = Assert.Throws<ArgumentException>(() => FeatureConfigHash.Format(new byte[8]));
        Assert.Contains("32-byte SHA-256, got 8 bytes", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => FeatureConfigHash.TryParse(AbcSha256, new byte[31]));
        Assert.Contains("destination is 31 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validating_and_parsing_allocate_nothing()
    {
        byte[] bytes = new byte[FeatureConfigHash.ByteLength];
        Assert.True(FeatureConfigHash.TryParse(AbcSha256, bytes));
        Assert.True(FeatureConfigDigest.TryParse(AbcSha256, out FeatureConfigDigest digest));
        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                FeatureConfigHash.IsValid(AbcSha256);
                FeatureConfigHash.TryParse(AbcSha256, bytes);
                FeatureConfigHash.TryValidate(AbcSha256, "featureConfigHash", out _);
                digest.Matches(AbcSha256);
            }
        });
        Assert.Equal(0, allocated);
    }
}

public class FeatureConfigDigest_Tests
{
    [Fact]
    public void Holds_the_digest_bytes_in_order_and_prints_the_text_form()
    {
        byte[] sha = SHA256.HashData("abc"u8);
        var digest = new FeatureConfigDigest(sha);
        var copy = new byte[FeatureConfigHash.ByteLength];
        digest.CopyTo(copy);
        Assert.Equal(sha, copy);
        Assert.Equal(Convert.ToHexStringLower(sha), digest.ToString());

        Assert.True(FeatureConfigDigest.TryParse(digest.ToString(), out FeatureConfigDigest parsed));
        Assert.Equal(digest, parsed);
        Assert.True(digest.Matches(Convert.ToHexStringLower(sha)));
        Assert.False(digest.Matches(Convert.ToHexString(sha))); // uppercase is not a spelling of any hash
    }

    [Fact]
    public void Differs_when_any_byte_differs()
    {
        byte[] sha = SHA256.HashData("abc"u8);
        var a = new FeatureConfigDigest(sha);
        for (int i = 0; i < sha.Length; i++)
        {
            byte[] other = (byte[])sha.Clone();
            other[i] ^= 0x01;
            var b = new FeatureConfigDigest(other);
            Assert.NotEqual(a, b);
            Assert.True(a != b, $"byte {i}");
        }
        Assert.Equal(a, new FeatureConfigDigest(sha));
        Assert.Equal(a.GetHashCode(), new FeatureConfigDigest(sha).GetHashCode());
    }

    [Fact]
    public void Rejects_a_digest_that_is_not_32_bytes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new FeatureConfigDigest(new byte[8]));
        Assert.Contains("got 8 bytes", ex.Message, StringComparison.Ordinal);
        Assert.False(FeatureConfigDigest.TryParse("0123456789abcdef", out _));
    }
}

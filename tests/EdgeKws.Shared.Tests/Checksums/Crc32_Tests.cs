using EdgeKws.Shared.Checksums;

namespace EdgeKws.Shared.Tests.Checksums;

public class Crc32_Tests
{
    [Fact]
    public void Crc_matches_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0xAE426082u, Crc32.Compute("IEND"u8)); // the CRC every PNG ends with
    }
}

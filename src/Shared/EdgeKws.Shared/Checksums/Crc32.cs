namespace EdgeKws.Shared.Checksums;

/// <summary>CRC-32 (ISO-HDLC, polynomial 0xEDB88320) as PNG chunks (and zip, gzip) use it.</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>CRC of <paramref name="data"/>; pass a previous result as <paramref name="crc"/> to continue over more bytes.</summary>
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0)
    {
        crc = ~crc;
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }
}

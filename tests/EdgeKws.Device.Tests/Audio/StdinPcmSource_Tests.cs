using System.Diagnostics;
using EdgeKws.Device.Audio;
using EdgeKws.Shared.Diagnostics;
using EdgeKws.TestSupport;

namespace EdgeKws.Device.Tests.Audio;

public sealed class StdinPcmSource_Tests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(320)]
    public void Reads_a_stream_chunked_at_odd_byte_counts_exactly(int destinationSamples)
    {
        var pattern = TestSignals.UniquePattern(5_001);
        // Chunk sizes 1, 2, 3, 5, 7, 11 bytes cycle: sample boundaries fall inside reads.
        using var stream = new ChunkedStream(TestSignals.ToS16Le(pattern), [1, 2, 3, 5, 7, 11]);
        using var source = new StdinPcmSource(stream, "test");

        var captured = ReadAll(source, destinationSamples);

        Assert.Equal(pattern, captured);
        Assert.Equal(pattern.Length, source.SamplesRead);
        Assert.False(source.TrailingByteDropped);
        Assert.Equal(0, source.Read(new short[4], CancellationToken.None));
    }

    [Fact]
    public void Drops_an_odd_trailing_byte_and_says_so()
    {
        var pattern = TestSignals.UniquePattern(101);
        var bytes = TestSignals.ToS16Le(pattern).Append((byte)0x7F).ToArray();
        using var source = new StdinPcmSource(new ChunkedStream(bytes, [3]), "test");

        var captured = ReadAll(source, 64);

        Assert.Equal(pattern, captured);
        Assert.True(source.TrailingByteDropped);
    }

    [Fact]
    public void Reads_raw_pcm_piped_from_a_real_child_process()
    {
        var pattern = TestSignals.UniquePattern(48_000);
        var path = Path.Combine(Path.GetTempPath(), $"edgekws-stdin-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(path, TestSignals.ToS16Le(pattern));
        try
        {
            // What the agent sees with `cat x.raw | edgekws-agent --source stdin`.
            using var cat = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true })!;
            using var source = new StdinPcmSource(cat.StandardOutput.BaseStream, "pipe", bufferBytes: 999);

            var captured = ReadAll(source, 320);

            Assert.Equal(pattern, captured);
            Assert.True(cat.WaitForExit(10_000));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Empty_stream_is_end_of_stream_at_once()
    {
        using var source = new StdinPcmSource(new MemoryStream([]), "empty");

        Assert.Equal(0, source.Read(new short[16], CancellationToken.None));
        Assert.False(source.TrailingByteDropped);
        Assert.Equal(0, source.SamplesRead);
    }

    [Fact]
    public void Cancelled_token_stops_the_read_and_loses_no_audio()
    {
        var pattern = TestSignals.UniquePattern(10);
        using var source = new StdinPcmSource(new MemoryStream(TestSignals.ToS16Le(pattern)), "test");
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.Throws<OperationCanceledException>(() => source.Read(new short[16], cts.Token));
        Assert.Equal(pattern, ReadAll(source, 16));
    }

    [Fact]
    public void Reads_allocate_nothing_after_construction()
    {
        var bytes = TestSignals.ToS16Le(TestSignals.UniquePattern(100_000));
        var buffer = new short[160];
        StdinPcmSource source = null!;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                source?.Dispose();
                source = new StdinPcmSource(new ChunkedStream(bytes, [7, 640, 3]), "test");
                source.Read(buffer, CancellationToken.None);
            },
            measured: () =>
            {
                for (var i = 0; i < 500; i++)
                {
                    source.Read(buffer, CancellationToken.None);
                }
            });
        using StdinPcmSource lastSource = source;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Disposes_the_stream_unless_asked_to_leave_it_open()
    {
        var owned = new MemoryStream([1, 2]);
        var borrowed = new MemoryStream([1, 2]);

        new StdinPcmSource(owned, "owned").Dispose();
        new StdinPcmSource(borrowed, "borrowed", leaveOpen: true).Dispose();

        Assert.False(owned.CanRead);
        Assert.True(borrowed.CanRead);
    }

    [Fact]
    public void Reports_name_rate_and_no_overruns()
    {
        using var source = new StdinPcmSource(new MemoryStream([]), "stdin");

        Assert.Equal("stdin", source.Name);
        Assert.Equal(16000, source.SampleRateHz);
        Assert.Equal(0, source.OverrunCount);
    }

    [Fact]
    public void Rejects_a_buffer_smaller_than_one_sample()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new StdinPcmSource(new MemoryStream(), "x", bufferBytes: 1));
        Assert.Contains("at least one 16-bit sample", ex.Message);
    }

    private static short[] ReadAll(IAudioSource source, int destinationSamples)
    {
        var all = new List<short>();
        var buffer = new short[destinationSamples];
        int n;
        while ((n = source.Read(buffer, CancellationToken.None)) > 0)
        {
            Assert.InRange(n, 1, destinationSamples);
            all.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return all.ToArray();
    }

    /// <summary>
    /// A stream that returns at most the next chunk size per read, like a pipe that delivers
    /// whatever the writer has flushed, but deterministic.
    /// </summary>
    private sealed class ChunkedStream(byte[] data, int[] chunkSizes) : Stream
    {
        private int _position;
        private int _chunk;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            var size = Math.Min(Math.Min(chunkSizes[_chunk++ % chunkSizes.Length], buffer.Length), data.Length - _position);
            data.AsSpan(_position, size).CopyTo(buffer);
            _position += size;
            return size;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

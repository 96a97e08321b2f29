using System.Buffers.Binary;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Diagnostics;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Audio;

public sealed class WavReader_Streaming_Tests(ITestOutputHelper output)
{
    [Fact]
    public void Streams_a_60_minute_file_with_a_buffer_independent_of_length_and_no_allocation()
    {
        const int rate = 16000;
        long frames = 60L * 60 * rate;
        using var oneSecond = new WavReader(new SyntheticWavStream(rate, 1, rate));
        var block = new float[4000];
        WavReader reader = null!;
        long total = 0;
        long mismatches = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                reader?.Dispose();
                reader = new WavReader(new SyntheticWavStream(rate, 1, frames));
                total = reader.ReadMono(block); // warm-up
                mismatches = 0;
            },
            measured: () =>
            {
                int n;
                while ((n = reader.ReadMono(block)) > 0)
                {
                    for (int i = 0; i < n; i++)
                    {
                        if (block[i] != SyntheticWavStream.SampleAt(total + i, 0) / 32768f)
                        {
                            mismatches++;
                        }
                    }

                    total += n;
                }
            });
        using WavReader lastReader = reader;
        Assert.Equal(frames, reader.Format.FrameCount);
        Assert.Equal(TimeSpan.FromMinutes(60), reader.Format.Duration);
        Assert.Equal(oneSecond.BufferSizeBytes, reader.BufferSizeBytes);
        output.WriteLine($"60 min at {rate} Hz: {total} frames read, reader buffer {reader.BufferSizeBytes} B, {allocated} B allocated during the read");
        Assert.Equal(frames, total);
        Assert.Equal(0, mismatches);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void AudioFileSource_resamples_a_long_stereo_stream_without_allocating_per_read()
    {
        const int rate = 44100;
        long frames = 30L * rate;
        var hop = new float[160];
        // Warm-up: one whole pass (including the end-of-stream flush) so that first-call JIT work and
        // tiered recompilation, which can allocate on the calling thread, happen before measuring.
        using (var warmUp = new AudioFileSource(new SyntheticWavStream(rate, 2, 2L * rate)))
        {
            while (warmUp.Read(hop) > 0)
            {
            }
        }

        AudioFileSource source = null!;
        long total = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                source?.Dispose();
                source = new AudioFileSource(new SyntheticWavStream(rate, 2, frames));
                total = source.Read(hop);
            },
            measured: () =>
            {
                int n;
                while ((n = source.Read(hop)) > 0)
                {
                    total += n;
                }
            });
        using AudioFileSource lastSource = source;
        output.WriteLine($"30 s 44.1 kHz stereo -> {total} samples at 16 kHz in 160-sample reads, {allocated} B allocated");
        Assert.Equal(source.OutputSampleCount, total);
        Assert.Equal(30L * 16000, total);
        Assert.Equal(0, allocated);
    }

    /// <summary>
    /// A non-seekable stream that produces a PCM16 WAV header and then a deterministic sample pattern on
    /// the fly, so hour-long inputs exist without materialising them.
    /// </summary>
    private sealed class SyntheticWavStream : Stream
    {
        private readonly byte[] _header = new byte[44];
        private readonly int _channels;
        private readonly long _totalBytes;
        private long _position;

        public SyntheticWavStream(int rate, int channels, long frames)
        {
            _channels = channels;
            long dataBytes = frames * channels * 2;
            _totalBytes = 44 + dataBytes;
            byte[] fmt = WavBytes.Fmt(channels: channels, rate: rate);
            "RIFF"u8.CopyTo(_header);
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(4), (uint)(36 + dataBytes));
            "WAVEfmt "u8.CopyTo(_header.AsSpan(8));
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(16), 16);
            fmt.CopyTo(_header, 20);
            "data"u8.CopyTo(_header.AsSpan(36));
            BinaryPrimitives.WriteUInt32LittleEndian(_header.AsSpan(40), (uint)dataBytes);
        }

        public static short SampleAt(long frame, int channel) => (short)(((frame * 7) + (channel * 1000)) % 65536 - 32768);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, _totalBytes - _position);
            for (int i = 0; i < n; i++, _position++)
            {
                if (_position < 44)
                {
                    buffer[i] = _header[_position];
                    continue;
                }

                long sampleIndex = (_position - 44) / 2;
                short s = SampleAt(sampleIndex / _channels, (int)(sampleIndex % _channels));
                buffer[i] = (_position & 1) == 0 ? (byte)s : (byte)(s >> 8);
            }

            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

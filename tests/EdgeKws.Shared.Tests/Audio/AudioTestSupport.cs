using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Shared.Tests.Audio;

/// <summary>Runs the real sox binary (a peer implementation) to make and decode fixtures at test time.</summary>
internal static class Sox
{
    public static void Run(params string[] args) => RunTool("sox", args);

    public static string Soxi(params string[] args) => RunTool("soxi", args).Trim();

    /// <summary>sox's own decode of a file to interleaved float32, for comparison with ours.</summary>
    public static float[] DecodeToFloat(string wavPath, string scratchDir)
    {
        string raw = Path.Combine(scratchDir, Path.GetFileNameWithoutExtension(wavPath) + "." + Guid.NewGuid().ToString("N") + ".f32");
        Run("-D", wavPath, "-t", "raw", "-e", "floating-point", "-b", "32", "-L", raw);
        byte[] bytes = File.ReadAllBytes(raw);
        var samples = new float[bytes.Length / 4];
        for (int i = 0; i < samples.Length; i++)
        {
            samples[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        }

        return samples;
    }

    private static string RunTool(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr}");
        }

        return stdout;
    }
}

/// <summary>Builds WAV byte images chunk by chunk so each corruption is explicit in the test.</summary>
internal static class WavBytes
{
    public static byte[] Fmt(int tag = 1, int channels = 1, int rate = 16000, int? blockAlign = null, int bits = 16)
    {
        var b = new byte[16];
        int align = blockAlign ?? channels * bits / 8;
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)tag);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), (uint)(rate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(14), (ushort)bits);
        return b;
    }

    public static byte[] Pcm16(params short[] samples)
    {
        var b = new byte[samples.Length * 2];
        for (int i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(i * 2), samples[i]);
        }

        return b;
    }

    /// <summary>A chunk whose size field is <paramref name="declaredSize"/> (default: the body length), body and pad byte as given.</summary>
    public static byte[] Chunk(string id, byte[] body, uint? declaredSize = null, bool pad = true)
    {
        var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(id));
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, declaredSize ?? (uint)body.Length);
        ms.Write(size);
        ms.Write(body);
        if (pad && body.Length % 2 == 1)
        {
            ms.WriteByte(0);
        }

        return ms.ToArray();
    }

    public static byte[] Riff(params byte[][] chunks) => RiffWith("RIFF", "WAVE", null, chunks);

    public static byte[] RiffWith(string magic, string form, uint? riffSize, params byte[][] chunks)
    {
        var body = new MemoryStream();
        body.Write(Encoding.ASCII.GetBytes(form));
        foreach (byte[] c in chunks)
        {
            body.Write(c);
        }

        var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(magic));
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, riffSize ?? (uint)body.Length);
        ms.Write(size);
        ms.Write(body.ToArray());
        return ms.ToArray();
    }
}

/// <summary>A read-only, non-seekable view of a stream, like a pipe: the reader must trust the header while reading.</summary>
internal sealed class PipeStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => inner.Read(buffer);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Tone and error measurements shared by the resampler tests.</summary>
internal static class Signal
{
    public static float[] Sine(int count, double frequencyHz, int rateHz, double amplitude, double phase = 0)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++)
        {
            x[i] = (float)(amplitude * Math.Sin((2 * Math.PI * frequencyHz * i / rateHz) + phase));
        }

        return x;
    }

    /// <summary>
    /// Hann-weighted least-squares amplitude of a sinusoid of known frequency in y[from..to). The Hann
    /// weight keeps a strong tone elsewhere from leaking into the estimate (a rectangular fit leaks at about -75 dB).
    /// </summary>
    public static double ToneAmplitude(ReadOnlySpan<float> y, double frequencyHz, int rateHz, int from, int to)
    {
        double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
        for (int i = from; i < to; i++)
        {
            double w = 2 * Math.PI * frequencyHz * i / rateHz;
            double h = 0.5 - (0.5 * Math.Cos(2 * Math.PI * (i - from + 0.5) / (to - from)));
            double s = Math.Sin(w), c = Math.Cos(w);
            ss += h * s * s; cc += h * c * c; sc += h * s * c; ys += h * y[i] * s; yc += h * y[i] * c;
        }

        double det = (ss * cc) - (sc * sc);
        double a = ((ys * cc) - (yc * sc)) / det;
        double b = ((yc * ss) - (ys * sc)) / det;
        return Math.Sqrt((a * a) + (b * b));
    }

    public static double Rms(ReadOnlySpan<float> y, int from, int to)
    {
        double e = 0;
        for (int i = from; i < to; i++)
        {
            e += (double)y[i] * y[i];
        }

        return Math.Sqrt(e / (to - from));
    }

    /// <summary>10 log10(energy of reference / energy of difference) over [from, to).</summary>
    public static double SnrDb(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual, int from, int to)
    {
        double s = 0, n = 0;
        for (int i = from; i < to; i++)
        {
            s += (double)reference[i] * reference[i];
            double d = (double)actual[i] - reference[i];
            n += d * d;
        }

        return 10 * Math.Log10(s / n);
    }

    /// <summary>Resamples a whole buffer through the streaming API in chunks of <paramref name="chunk"/>, flush included.</summary>
    public static float[] Resample(Resampler r, ReadOnlySpan<float> input, int chunk)
    {
        var output = new List<float>();
        var block = new float[r.GetMaxOutputCount(chunk)];
        for (int i = 0; i < input.Length; i += chunk)
        {
            int n = r.Process(input.Slice(i, Math.Min(chunk, input.Length - i)), block);
            output.AddRange(block.AsSpan(0, n));
        }

        var tail = new float[r.MaxFlushCount];
        int t = r.Flush(tail);
        output.AddRange(tail.AsSpan(0, t));
        return [.. output];
    }
}

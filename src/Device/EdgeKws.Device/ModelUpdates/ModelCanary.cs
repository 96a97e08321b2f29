using System.Security.Cryptography;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>
/// A canary for the model health check: a fixed sequence of MFCC frames, stored in the wire's
/// <see cref="ClipFeatures"/> frame format (magic "EKWF", float32 frame-major, with the feature
/// configuration hash), so the canary files are produced and read by code that already exists.
/// </summary>
/// <remarks>
/// The canaries ship with the agent (<c>{state}/canary/positive.ekwf</c> and <c>negative.ekwf</c>),
/// not with the update: a model must prove itself on the device's own notion of "the keyword" and
/// "not the keyword", which an update cannot redefine. The positive canary must make the model fire;
/// the negative one must not. Today they are generated frame sequences (the test models' high-c1
/// pattern); the real canary is a keyword clip run through the device's MFCC front end.
/// The file carries the full SHA-256 feature config hash in its clip header (see ClipFrame).
/// </remarks>
public sealed class ModelCanary
{
    /// <summary>File name of the canary the model must fire on.</summary>
    public const string PositiveFileName = "positive.ekwf";

    /// <summary>File name of the canary the model must stay quiet on.</summary>
    public const string NegativeFileName = "negative.ekwf";

    private const int SampleRateHz = 16_000;
    // Fixed so a canary file is a pure function of its frames (reproducible, diffable).
    private static readonly DateTimeOffset FileTimeUtc = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly float[] _frames;

    private ModelCanary(float[] frames, int coefficients, string path)
    {
        _frames = frames;
        Coefficients = coefficients;
        Path = path;
    }

    public int Coefficients { get; }
    public int FrameCount => _frames.Length / Coefficients;
    public string Path { get; }

    /// <summary>Frames, frame-major: frame t is [t * Coefficients, (t + 1) * Coefficients).</summary>
    public ReadOnlySpan<float> Frames => _frames;

    /// <summary>Writes a canary file (durably: temp, fsync, rename).</summary>
    public static void Write(string path, ReadOnlySpan<float> frames, int coefficients, string featureConfigHash)
    {
        Span<byte> hash = stackalloc byte[FeatureConfigHash.ByteLength];
        if (!FeatureConfigHash.TryParse(featureConfigHash, hash))
        {
            throw new ArgumentException($"feature config hash must be 64 lowercase hex digits, got '{featureConfigHash}'", nameof(featureConfigHash));
        }
        var bytes = new byte[ClipFeatures.GetFrameSizeBytes(frames.Length / Math.Max(1, coefficients), coefficients)];
        byte[] digest = SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(frames));
        var clipId = new Guid(digest.AsSpan(0, 16));
        int written = ClipFeatures.Write(bytes, clipId, FileTimeUtc, SampleRateHz, hash, coefficients, frames);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        DurableFile.WriteAtomically(path, bytes.AsSpan(0, written));
    }

    /// <summary>
    /// Reads a canary file and checks it was made with <paramref name="featureConfigHash"/>'s front
    /// end; the reason names the file and the problem.
    /// </summary>
    public static bool TryLoad(string path, string featureConfigHash, out ModelCanary? canary, out string reason)
    {
        canary = null;
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                reason = $"canary file {path} not found (the agent ships {PositiveFileName} and {NegativeFileName} in its canary folder)";
                return false;
            }
            if (info.Length > ClipFeatures.GetFrameSizeBytes(ClipFeatures.MaxFrames, ClipFeatures.MaxCoefficients))
            {
                reason = $"canary file {path} is {info.Length} bytes, larger than any valid feature clip";
                return false;
            }
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read canary file {path}: {ex.Message}";
            return false;
        }
        if (!ClipFeatures.TryReadHeader(bytes, out ClipHeader header, out reason))
        {
            reason = $"canary file {path}: {reason}";
            return false;
        }
        if (!header.ConfigHash.Matches(featureConfigHash))
        {
            reason = $"canary file {path} was made with feature config {header.ConfigHash}, " +
                     $"this device's front end is {featureConfigHash}";
            return false;
        }
        var frames = new float[header.FrameCount * header.ValuesPerFrame];
        if (!ClipFeatures.TryReadFeatures(bytes, header, frames, out reason))
        {
            reason = $"canary file {path}: {reason}";
            return false;
        }
        canary = new ModelCanary(frames, header.ValuesPerFrame, path);
        return true;
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// A wake phrase's enrollment settings, from a small JSON file:
/// <c>{ "phrase": "hey edge", "minSpeechMs": 500, "maxSpeechMs": 800 }</c>. Omitted keys keep the
/// defaults; unknown keys are an error (a typo must not silently keep a default).
/// </summary>
public sealed class PhraseConfig
{
    /// <summary>The phrase shown in prompts.</summary>
    public string? Phrase { get; set; }

    /// <summary>Shortest main speech segment accepted, ms.</summary>
    public int? MinSpeechMs { get; set; }

    /// <summary>Longest main speech segment accepted, ms.</summary>
    public int? MaxSpeechMs { get; set; }

    /// <summary>Applies the set keys to <paramref name="policy"/>.</summary>
    public EnrollmentPolicy ApplyTo(EnrollmentPolicy policy) => policy with
    {
        Phrase = Phrase ?? policy.Phrase,
        MinSpeechMs = MinSpeechMs ?? policy.MinSpeechMs,
        MaxSpeechMs = MaxSpeechMs ?? policy.MaxSpeechMs,
    };

    /// <summary>Reads a phrase configuration; false with a reason naming the file and the problem.</summary>
    public static bool TryLoad(string path, out PhraseConfig config, out string reason)
    {
        config = new PhraseConfig();
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            reason = $"phrase config {path} could not be read: {ex.Message}";
            return false;
        }

        try
        {
            config = JsonSerializer.Deserialize(json, PhraseConfigJsonContext.Default.PhraseConfig) ?? new PhraseConfig();
        }
        catch (JsonException ex)
        {
            reason = $"phrase config {path} is not valid: {ex.Message}";
            return false;
        }

        reason = string.Empty;
        return true;
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(PhraseConfig))]
internal sealed partial class PhraseConfigJsonContext : JsonSerializerContext;

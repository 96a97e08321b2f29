using System.Text.Json;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Shared.Tests.Contracts;

public sealed class EnrollmentQcReport_Tests
{
    private static EnrollmentQcReport Valid() => new()
    {
        DeviceId = "dev-001",
        DeviceTimeUtc = Samples.Now,
        Outcome = EnrollmentOutcome.Enrolled,
        FeatureConfigHash = Samples.Hash,
        TakesRequested = 5,
        TakesAccepted = 5,
        Attempts = 7,
        Rejections = new EnrollmentCheckCounts { LowSnr = 1, Clipped = 1 },
        MinSnrDb = 28.4,
        MeanSnrDb = 30.1,
        MinSpeechMs = 530,
        MaxSpeechMs = 610,
        MinSpeechRmsDbFs = -21.5,
        MaxSpeechRmsDbFs = -18.9,
        MaxDtwDistance = 17.2,
        DtwThreshold = 30,
    };

    [Fact]
    public void Round_trips_through_json_with_camel_case_names_and_string_outcome()
    {
        byte[] json = WireJson.Serialize(Valid());
        Assert.True(WireJson.TryDeserialize(json, WireJsonContext.Default.EnrollmentQcReport, out EnrollmentQcReport? back, out string reason), reason);
        Assert.Equal(7, back.Attempts);
        Assert.Equal(1, back.Rejections.Clipped);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("Enrolled", doc.RootElement.GetProperty("outcome").GetString());
        Assert.Equal(1, doc.RootElement.GetProperty("rejections").GetProperty("lowSnr").GetInt32());
    }

    [Fact]
    public void Is_published_on_its_own_topic_kind()
    {
        Assert.Equal("edgekws/v1/dev-001/enrollment-qc", Topics.Uplink("dev-001", MessageKind.EnrollmentQc));
    }

    [Theory]
    [InlineData("accepted-over-requested", "takesAccepted must be 0..takesRequested")]
    [InlineData("enrolled-short", "outcome enrolled needs takesAccepted == takesRequested")]
    [InlineData("attempts-under-accepted", "attempts must be takesAccepted")]
    [InlineData("rejection-over-rejected", "rejections: a count (9) is outside 0..rejected attempts (2)")]
    [InlineData("nan-snr", "minSnrDb must be a finite number")]
    [InlineData("zero-takes", "takesRequested must be 1..32")]
    [InlineData("bad-hash", "featureConfigHash")]
    public void Refuses_an_inconsistent_report_naming_the_field(string breakage, string expected)
    {
        EnrollmentQcReport r = Valid();
        r = breakage switch
        {
            "accepted-over-requested" => Copy(r, takesAccepted: 6, attempts: 8),
            "enrolled-short" => Copy(r, takesAccepted: 4),
            "attempts-under-accepted" => Copy(r, attempts: 3),
            "rejection-over-rejected" => Copy(r, rejections: new EnrollmentCheckCounts { NoSpeech = 9 }),
            "nan-snr" => Copy(r, minSnr: double.NaN),
            "zero-takes" => Copy(r, takesRequested: 0, takesAccepted: 0),
            _ => Copy(r, hash: Samples.OldHash),
        };
        Assert.False(r.TryValidate(out string reason));
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    private static EnrollmentQcReport Copy(EnrollmentQcReport r, int? takesRequested = null, int? takesAccepted = null, int? attempts = null,
        EnrollmentCheckCounts? rejections = null, double? minSnr = null, string? hash = null) => new()
        {
            DeviceId = r.DeviceId,
            DeviceTimeUtc = r.DeviceTimeUtc,
            Outcome = r.Outcome,
            FeatureConfigHash = hash ?? r.FeatureConfigHash,
            TakesRequested = takesRequested ?? r.TakesRequested,
            TakesAccepted = takesAccepted ?? r.TakesAccepted,
            Attempts = attempts ?? r.Attempts,
            Rejections = rejections ?? r.Rejections,
            MinSnrDb = minSnr ?? r.MinSnrDb,
            DtwThreshold = r.DtwThreshold,
        };
}

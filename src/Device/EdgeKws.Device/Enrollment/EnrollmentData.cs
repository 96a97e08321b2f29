namespace EdgeKws.Device.Enrollment;

/// <summary>
/// An accepted enrollment as stored on the device: the takes' MFCCs and figures and the speaker
/// template. Contains the voice print: it is written only by <see cref="EnrollmentStore"/> and
/// never uploaded (the outbox gets an <see cref="Shared.Contracts.EnrollmentQcReport"/>).
/// </summary>
/// <param name="FeatureConfigHash">SHA-256 (64 hex) of the MFCC configuration the features were computed with.</param>
/// <param name="CoefficientCount">MFCCs per frame (row stride of every feature array).</param>
/// <param name="CreatedUtc">When the enrollment was accepted.</param>
/// <param name="Phrase">The phrase that was enrolled.</param>
/// <param name="DtwThreshold">Consistency threshold that was in force.</param>
/// <param name="Takes">Accepted takes, in order.</param>
/// <param name="TemplateTakeIndex">The speaker template: index of the DTW medoid among <paramref name="Takes"/>.</param>
public sealed record EnrollmentData(
    string FeatureConfigHash,
    int CoefficientCount,
    DateTimeOffset CreatedUtc,
    string Phrase,
    double DtwThreshold,
    IReadOnlyList<EnrolledTake> Takes,
    int TemplateTakeIndex)
{
    /// <summary>The template's features (frames x <see cref="CoefficientCount"/>, row-major).</summary>
    public ReadOnlySpan<float> TemplateFeatures => Takes[TemplateTakeIndex].Features;

    /// <summary>Structural equality including the feature values (records compare arrays by reference).</summary>
    public bool ContentEquals(EnrollmentData other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (FeatureConfigHash != other.FeatureConfigHash || CoefficientCount != other.CoefficientCount
            || CreatedUtc != other.CreatedUtc || Phrase != other.Phrase || DtwThreshold.CompareTo(other.DtwThreshold) != 0
            || TemplateTakeIndex != other.TemplateTakeIndex || Takes.Count != other.Takes.Count)
        {
            return false;
        }

        for (int i = 0; i < Takes.Count; i++)
        {
            EnrolledTake a = Takes[i], b = other.Takes[i];
            if (a.FrameCount != b.FrameCount || a.Figures != b.Figures || a.DtwToTemplate.CompareTo(b.DtwToTemplate) != 0
                || !a.Features.AsSpan().SequenceEqual(b.Features))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One accepted take: its MFCCs (main speech segment) and its figures.</summary>
/// <param name="Features">FrameCount x CoefficientCount floats, row-major.</param>
/// <param name="FrameCount">MFCC frames.</param>
/// <param name="Figures">QC figures of the take.</param>
/// <param name="DtwToTemplate">DTW distance to the template take (0 for the template itself).</param>
public sealed record EnrolledTake(float[] Features, int FrameCount, TakeFigures Figures, double DtwToTemplate);

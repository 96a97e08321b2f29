using EdgeKws.Device.Enrollment;
using EdgeKws.Shared.Features;

namespace EdgeKws.Device.EnrollmentStress;

/// <summary>
/// Deterministic enrollments numbered by generation, so whoever finds one on disk can rebuild the
/// expected content from its generation and compare every byte. Sizes vary (about 40-215 KB) so
/// writes take a noticeable time and kills land inside them.
/// </summary>
public static class StressEnrollments
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static EnrollmentData Generation(long g)
    {
        const int coefficients = 13;
        var takes = new EnrolledTake[5];
        for (int t = 0; t < takes.Length; t++)
        {
            int frames = 150 + (int)((g * 37 + t * 101) % 650);
            var features = new float[frames * coefficients];
            for (int i = 0; i < features.Length; i++)
            {
                features[i] = (float)Math.Sin((g * 7919) + (t * 104729) + i);
            }

            var figures = new TakeFigures { RecordingMs = 1000 + g, SpeechMs = 600, SnrDb = 30 + t, PeakDbFs = -3, SpeechRmsDbFs = -20 };
            takes[t] = new EnrolledTake(features, frames, figures, t * 0.5);
        }

        return new EnrollmentData(MfccConfig.Default.FeatureConfigHash, coefficients, Epoch.AddMilliseconds(g), "hey edge", 30, takes, (int)(g % 5));
    }

    public static long GenerationOf(EnrollmentData data) => (long)(data.CreatedUtc - Epoch).TotalMilliseconds;
}

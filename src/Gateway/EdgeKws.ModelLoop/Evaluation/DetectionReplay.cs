namespace EdgeKws.ModelLoop.Evaluation;

/// <summary>
/// Replays <see cref="EdgeKws.Detection.KeywordDetector"/>'s firing rules over a recorded
/// smoothed-score trace, so one pass of the real detector gives the events at every threshold.
/// </summary>
/// <remarks>
/// The rules (copied from the detector and checked against it on every evaluation: the replay at
/// the deployed threshold must give exactly the detector's event frames): an inference fires when
/// its smoothed score is &gt;= the threshold (a NaN never fires), the detector is armed, and the
/// frame is at or past the end of the refractory period; firing disarms and starts a refractory
/// period of <c>refractoryFrames</c>; a score below the threshold re-arms. Scores at or above the
/// threshold that do not fire change nothing.
/// </remarks>
public static class DetectionReplay
{
    /// <summary>Appends the frame index of every event to <paramref name="eventFrames"/> (when given) and returns the count.</summary>
    public static int Replay(ReadOnlySpan<float> smoothedScores, ReadOnlySpan<long> frameIndices, float threshold, long refractoryFrames,
        List<long>? eventFrames = null)
    {
        if (smoothedScores.Length != frameIndices.Length)
            throw new ArgumentException($"{smoothedScores.Length} scores but {frameIndices.Length} frame indices; the trace must have one of each per inference");
        bool armed = true;
        long refractoryUntil = long.MinValue;
        int events = 0;
        for (int i = 0; i < smoothedScores.Length; i++)
        {
            if (!(smoothedScores[i] >= threshold))
            {
                armed = true;
                continue;
            }
            long frame = frameIndices[i];
            if (!armed || frame < refractoryUntil) continue;
            armed = false;
            refractoryUntil = frame + refractoryFrames;
            events++;
            eventFrames?.Add(frame);
        }
        return events;
    }
}

using EdgeKws.Shared.Features;

namespace EdgeKws.Device.Enrollment;

/// <summary>
/// The MFCCs of the accepted takes plus one candidate slot, their cepstral means and the DTW work
/// space: computes a candidate's features, its mean DTW distance to the accepted takes, moves an
/// accepted candidate into place, and picks the speaker template (the DTW medoid).
/// </summary>
/// <remarks>Memory: every buffer is allocated in the constructor, sized from the take count and the
/// longest allowed speech segment; nothing is allocated per take except the finished enrollment.</remarks>
internal sealed class TakeFeatureBank
{
    private readonly MfccExtractor _mfcc;
    private readonly float[] _features;   // (takeCount + 1) slots of MaxFrames x C; the last slot is the candidate
    private readonly int[] _frames;       // takeCount + 1
    private readonly double[] _means;     // (takeCount + 1) x C
    private readonly double[] _dtwScratch;
    private readonly double[] _pairwise;  // takeCount x takeCount, filled by BuildTakes
    private readonly int _candidate;
    private readonly int _coefficients;

    /// <param name="takeCount">Takes an enrollment keeps.</param>
    /// <param name="maxFrames">Most MFCC frames kept per take.</param>
    /// <param name="mfccConfig">The MFCC configuration the features are computed with.</param>
    public TakeFeatureBank(int takeCount, int maxFrames, MfccConfig mfccConfig)
    {
        _mfcc = new MfccExtractor(mfccConfig);
        _coefficients = mfccConfig.CoefficientCount;
        MaxFrames = maxFrames;
        _candidate = takeCount;
        _features = new float[(takeCount + 1) * maxFrames * _coefficients];
        _frames = new int[takeCount + 1];
        _means = new double[(takeCount + 1) * _coefficients];
        _dtwScratch = new double[DtwDistance.ScratchLength(maxFrames)];
        _pairwise = new double[takeCount * takeCount];
    }

    /// <summary>Most MFCC frames kept per take.</summary>
    public int MaxFrames { get; }

    /// <summary>MFCC coefficients per frame.</summary>
    public int Coefficients => _coefficients;

    /// <summary>Exact bytes of state: every array's length x element size plus <see cref="MfccExtractor.StateBytes"/>.</summary>
    public int StateBytes =>
        (_features.Length * sizeof(float))
        + (_frames.Length * sizeof(int))
        + (_means.Length * sizeof(double))
        + (_dtwScratch.Length * sizeof(double))
        + (_pairwise.Length * sizeof(double))
        + _mfcc.StateBytes;

    /// <summary>
    /// Computes the MFCCs of <paramref name="speech"/> (the main speech segment) and their mean into the
    /// candidate slot. Returns the frame count; 0 when the segment is shorter than one frame.
    /// </summary>
    public int ComputeCandidate(ReadOnlySpan<short> speech)
    {
        Span<float> candidate = Slot(_candidate);
        _mfcc.Reset();
        int frames = _mfcc.Push(speech, candidate);
        if (frames < 1)
        {
            return 0;
        }

        _frames[_candidate] = frames;
        DtwDistance.ComputeMean(candidate, frames, _coefficients, Mean(_candidate));
        return frames;
    }

    /// <summary>Mean DTW distance from the candidate to each of the first <paramref name="acceptedCount"/> (> 0) takes.</summary>
    public double MeanDistanceToAccepted(int acceptedCount)
    {
        double sum = 0;
        for (int k = 0; k < acceptedCount; k++)
        {
            sum += Distance(_candidate, k);
        }

        return sum / acceptedCount;
    }

    /// <summary>Copies the candidate into accepted slot <paramref name="into"/>.</summary>
    public void AcceptCandidate(int into)
    {
        int frames = _frames[_candidate];
        Slot(_candidate)[..(frames * _coefficients)].CopyTo(Slot(into));
        Mean(_candidate).CopyTo(Mean(into));
        _frames[into] = frames;
    }

    /// <summary>
    /// The first <paramref name="takeCount"/> accepted takes with their figures and distance to the template,
    /// the DTW medoid (the take with the smallest summed distance to the others), returned in
    /// <paramref name="template"/>.
    /// </summary>
    public EnrolledTake[] BuildTakes(ReadOnlySpan<TakeFigures> figures, out int template)
    {
        int n = figures.Length;
        for (int i = 0; i < n; i++)
        {
            _pairwise[(i * n) + i] = 0;
            for (int j = i + 1; j < n; j++)
            {
                double d = Distance(i, j);
                _pairwise[(i * n) + j] = d;
                _pairwise[(j * n) + i] = d;
            }
        }

        int medoid = 0;
        double best = double.PositiveInfinity;
        for (int i = 0; i < n; i++)
        {
            double sum = 0;
            for (int j = 0; j < n; j++)
            {
                sum += _pairwise[(i * n) + j];
            }

            if (sum < best)
            {
                best = sum;
                medoid = i;
            }
        }

        var takes = new EnrolledTake[n];
        for (int i = 0; i < n; i++)
        {
            takes[i] = new EnrolledTake(
                Slot(i)[..(_frames[i] * _coefficients)].ToArray(),
                _frames[i],
                figures[i],
                _pairwise[(medoid * n) + i]);
        }

        template = medoid;
        return takes;
    }

    private double Distance(int slotA, int slotB) => DtwDistance.Compute(
        Slot(slotA), _frames[slotA], Mean(slotA), Slot(slotB), _frames[slotB], Mean(slotB), _coefficients, _dtwScratch);

    private Span<float> Slot(int slot) => _features.AsSpan(slot * MaxFrames * _coefficients, MaxFrames * _coefficients);

    private Span<double> Mean(int slot) => _means.AsSpan(slot * _coefficients, _coefficients);
}

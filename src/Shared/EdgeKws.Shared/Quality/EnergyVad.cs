using System.Runtime.CompilerServices;

namespace EdgeKws.Shared.Quality;

/// <summary>
/// Streaming energy voice-activity detector: adaptive noise floor, onset/offset thresholds above
/// it, hangover and minimum speech duration. Reports the main speech segment (the one with the
/// most energy), the number of segments and the span from the first to the last.
/// </summary>
/// <remarks>
/// <para>Noise floor: the minimum frame level (dBFS) over the last
/// <see cref="EnergyVadSettings.NoiseWindowMs"/>, tracked with <see cref="NoiseSubwindowCount"/>
/// sub-window minima (a simplified minimum-statistics tracker). It follows a rising noise within
/// one window and ignores speech shorter than the window. Decisions use the floor of the frames
/// before the current one, so the first frame is never speech: a take needs a lead-in of at least
/// one frame, and the floor is only right once the lead-in holds noise, not speech.</para>
/// <para>Segment times are frame-aligned: start = first sample of the first frame above
/// onset, end = end of the last frame above offset (the hangover is not included).</para>
/// <para>Allocation: one fixed state struct (<see cref="StateBytes"/> bytes); <see cref="Push"/> and
/// the queries allocate nothing. Frames align to the first sample pushed and are summed sample by
/// sample, so results are identical for any block size. A trailing partial frame is held until
/// more samples arrive.</para>
/// </remarks>
public sealed class EnergyVad
{
    /// <summary>Number of sub-window minima kept for the noise floor.</summary>
    public const int NoiseSubwindowCount = 8;

    private State _s;

    /// <summary>Creates a detector with <paramref name="settings"/> (defaults when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it.</exception>
    public EnergyVad(EnergyVadSettings? settings = null)
    {
        settings ??= new EnergyVadSettings();
        int rate = settings.SampleRateHz;
        int frameSamples = SampleBlock.SamplesFor(rate, settings.FrameMs, nameof(settings.FrameMs));
        if (!(settings.OnsetDb > 0 && settings.OnsetDb <= 60))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.OnsetDb, "OnsetDb must be in (0, 60] dB above the noise floor.");
        }

        if (!(settings.OffsetDb > 0 && settings.OffsetDb <= settings.OnsetDb))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.OffsetDb, $"OffsetDb must be in (0, OnsetDb = {settings.OnsetDb}] dB.");
        }

        if (settings.HangoverMs < 0 || settings.HangoverMs % settings.FrameMs != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.HangoverMs, $"HangoverMs must be a non-negative multiple of FrameMs = {settings.FrameMs}.");
        }

        if (settings.MinSpeechMs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.MinSpeechMs, "MinSpeechMs must not be negative.");
        }

        if (!(settings.MinSpeechDbFs >= Dbfs.FloorDbFs && settings.MinSpeechDbFs <= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.MinSpeechDbFs, $"MinSpeechDbFs must be in [{Dbfs.FloorDbFs}, 0] dBFS.");
        }

        if (settings.NoiseWindowMs <= 0 || settings.NoiseWindowMs % (settings.FrameMs * NoiseSubwindowCount) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.NoiseWindowMs,
                $"NoiseWindowMs must be a positive multiple of {NoiseSubwindowCount} x FrameMs = {NoiseSubwindowCount * settings.FrameMs} ms.");
        }

        _c = new Config
        {
            FrameSamples = frameSamples,
            SampleRateHz = rate,
            OnsetDb = settings.OnsetDb,
            OffsetDb = settings.OffsetDb,
            GateDbFs = settings.MinSpeechDbFs,
            HangoverFrames = settings.HangoverMs / settings.FrameMs,
            MinSpeechSamples = (long)settings.MinSpeechMs * rate / 1000,
            SubwindowFrames = settings.NoiseWindowMs / settings.FrameMs / NoiseSubwindowCount,
        };
        _s = new State { Frame = new FramedSquares(frameSamples) };
    }

    private readonly Config _c;

    /// <summary>Exact bytes of state: the configuration struct plus the running-state struct, which hold every field (object header not counted).</summary>
    public static int StateBytes => Unsafe.SizeOf<Config>() + Unsafe.SizeOf<State>();

    /// <summary>Frame length in samples.</summary>
    public int FrameSamples => _s.Frame.FrameLength;

    /// <summary>Sample rate in use.</summary>
    public int SampleRateHz => _c.SampleRateHz;

    /// <summary>Complete frames analysed so far.</summary>
    public long FrameCount => _s.FrameIndex;

    /// <summary>True while the last analysed frame is inside speech (including hangover).</summary>
    public bool IsInSpeech => _s.InSpeech;

    /// <summary>Speech segments at least the minimum duration so far (an open one counts once it is long enough).</summary>
    public int SegmentCount
    {
        get
        {
            Summarise(out int count, out _, out _, out _);
            return count;
        }
    }

    /// <summary>Adds a block of samples (any length, including zero).</summary>
    /// <exception cref="ArgumentException">A sample is NaN or infinite; the detector is left unchanged.</exception>
    public void Push(ReadOnlySpan<float> block)
    {
        SampleBlock.ThrowIfNotFinite(block);
        PushUnchecked(block);
    }

    /// <summary>Forgets everything pushed; keeps the settings. Allocates nothing.</summary>
    public void Reset() => _s = new State { Frame = new FramedSquares(_c.FrameSamples) };

    /// <summary>Gets the current noise floor in dBFS; false before the first frame.</summary>
    public bool TryGetNoiseFloorDbFs(out double floorDbFs)
    {
        floorDbFs = _s.FrameIndex > 0 ? Floor(in _s) : Dbfs.FloorDbFs;
        return _s.FrameIndex > 0;
    }

    /// <summary>Gets the main speech segment (most energy; an open segment counts as ending at its last speech frame); false when there is none.</summary>
    public bool TryGetMainSegment(out SpeechSegment segment)
    {
        Summarise(out int count, out segment, out _, out _);
        return count > 0;
    }

    /// <summary>Gets the span from the start of the first segment to the end of the last; false when there is no segment.</summary>
    public bool TryGetSpeechSpan(out SpeechSegment span)
    {
        Summarise(out int count, out _, out long first, out long last);
        span = new SpeechSegment(first, last, _c.SampleRateHz);
        return count > 0;
    }

    internal void PushUnchecked(ReadOnlySpan<float> block)
    {
        int offset = 0;
        while (offset < block.Length)
        {
            offset += _s.Frame.Consume(block[offset..], out bool complete);
            if (complete)
            {
                OnFrame(_s.Frame.MeanSquare);
                _s.Frame.Clear();
            }
        }
    }

    private void OnFrame(double meanSquare)
    {
        double db = Dbfs.FromMeanSquare(meanSquare);
        long frameStart = _s.FrameIndex * _s.Frame.FrameLength;
        long frameEnd = frameStart + _s.Frame.FrameLength;

        if (_s.FrameIndex > 0)
        {
            double floor = Floor(in _s);
            bool active = db >= _c.GateDbFs && db >= floor + (_s.InSpeech ? _c.OffsetDb : _c.OnsetDb);
            if (_s.InSpeech)
            {
                if (active)
                {
                    _s.LastActiveEnd = frameEnd;
                    _s.SegmentEnergy += meanSquare;
                    _s.InactiveFrames = 0;
                }
                else if (++_s.InactiveFrames > _c.HangoverFrames)
                {
                    CloseSegment(ref _s);
                }
            }
            else if (active)
            {
                _s.InSpeech = true;
                _s.SegmentStart = frameStart;
                _s.LastActiveEnd = frameEnd;
                _s.SegmentEnergy = meanSquare;
                _s.InactiveFrames = 0;
            }
        }

        TrackNoise(db);
        _s.FrameIndex++;
    }

    private void TrackNoise(double db)
    {
        _s.CurrentSubMin = _s.CurrentSubFrames == 0 ? db : Math.Min(_s.CurrentSubMin, db);
        if (++_s.CurrentSubFrames == _c.SubwindowFrames)
        {
            _s.SubMins[_s.SubPosition] = _s.CurrentSubMin;
            _s.SubPosition = (_s.SubPosition + 1) % NoiseSubwindowCount;
            _s.SubFilled = Math.Min(_s.SubFilled + 1, NoiseSubwindowCount);
            _s.CurrentSubFrames = 0;
        }
    }

    private static double Floor(in State s)
    {
        double floor = s.CurrentSubFrames > 0 ? s.CurrentSubMin : double.MaxValue;
        for (int i = 0; i < s.SubFilled; i++)
        {
            floor = Math.Min(floor, s.SubMins[i]);
        }

        return floor;
    }

    private void CloseSegment(ref State s)
    {
        s.InSpeech = false;
        s.InactiveFrames = 0;
        if (s.LastActiveEnd - s.SegmentStart < _c.MinSpeechSamples)
        {
            return;
        }

        if (s.Count == 0)
        {
            s.FirstStart = s.SegmentStart;
        }

        s.Count++;
        s.LastEnd = s.LastActiveEnd;
        if (s.Count == 1 || s.SegmentEnergy > s.BestEnergy)
        {
            s.BestStart = s.SegmentStart;
            s.BestEnd = s.LastActiveEnd;
            s.BestEnergy = s.SegmentEnergy;
        }
    }

    // Queries close a still-open segment on a copy, so asking never changes what later frames do.
    private void Summarise(out int count, out SpeechSegment main, out long firstStart, out long lastEnd)
    {
        State view = _s;
        if (view.InSpeech)
        {
            CloseSegment(ref view);
        }

        count = view.Count;
        main = new SpeechSegment(view.BestStart, view.BestEnd, _c.SampleRateHz);
        firstStart = view.FirstStart;
        lastEnd = view.LastEnd;
    }

    [InlineArray(NoiseSubwindowCount)]
    private struct SubwindowMinima
    {
        private double _element;
    }

    // Both structs: sequential layout, widest fields first so there is no padding to pay for.
    private struct Config
    {
        public double OnsetDb;
        public double OffsetDb;
        public double GateDbFs;
        public long MinSpeechSamples;
        public int FrameSamples;
        public int SampleRateHz;
        public int HangoverFrames;
        public int SubwindowFrames;
    }

    private struct State
    {
        public FramedSquares Frame;
        public SubwindowMinima SubMins;
        public long FrameIndex;
        public double CurrentSubMin;
        public long SegmentStart;
        public long LastActiveEnd;
        public double SegmentEnergy;
        public long FirstStart;
        public long LastEnd;
        public long BestStart;
        public long BestEnd;
        public double BestEnergy;
        public int SubPosition;
        public int SubFilled;
        public int CurrentSubFrames;
        public int InactiveFrames;
        public int Count;
        public bool InSpeech;
    }
}

namespace EdgeKws.Acoustics;

/// <summary>
/// Room impulse responses of a <see cref="ShoeboxRoom"/>: image sources for the early part, a seeded
/// stochastic tail for the rest. Allocates the response and two double buffers of its length per call.
/// </summary>
public static class RoomImpulseResponse
{
    /// <summary>Half length of the windowed-sinc fractional-delay interpolator, samples (81 taps, as pyroomacoustics).</summary>
    internal const int SincHalfWidth = 40;

    /// <summary>Image sources fade out, and the tail fades in, over this long before the transition time.</summary>
    internal const double CrossfadeMs = 5;

    /// <summary>The tail's level is fitted to the energy of the image-source samples in this window before the crossfade.</summary>
    internal const double FitWindowMs = 20;

    /// <summary>ln(10^6): energy falls by this many nepers in one RT60.</summary>
    private static readonly double SixtyDbInNepers = Math.Log(1e6);

    /// <summary>
    /// Image-source method (Allen and Berkley 1979) for the early part: every image whose reflection arrives
    /// up to <see cref="RirOptions.EarlyReflectionsMs"/> after the direct path, amplitude beta^n / (4 pi r)
    /// with beta = sqrt(1 - a) and n the number of wall reflections, placed with a Hann-windowed sinc
    /// fractional delay (81 taps). Then a stochastic diffuse tail: seeded Gaussian noise with an exponential
    /// envelope decaying 60 dB in the room's Eyring RT60, its energy per sample matched to the energy of the
    /// image-source samples in the 20 ms before the crossfade (as if that energy followed the same decay), with
    /// an energy-preserving 5 ms sine/cosine crossfade ending at the transition. Allen and Berkley's DC-blocking
    /// high-pass (<see cref="RirOptions.HighPassCutoffHz"/>; its first tap is 1 so the direct path keeps its
    /// amplitude) filters both parts.
    /// Length: until the tail has decayed 60 dB from its level at the transition (transition + RT60), or
    /// <see cref="RirOptions.MaxLengthSeconds"/> if shorter. Sample 0 and the delay handling are described
    /// on <see cref="RirOptions.RemoveDirectPathDelay"/>. The same arguments give the same samples; the seed
    /// only affects the tail.
    /// </summary>
    /// <exception cref="ArgumentException">The source or microphone is outside the room, or they are closer than 1 cm.</exception>
    public static float[] Generate(ShoeboxRoom room, Point3 source, Point3 microphone, ulong seed, RirOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(room);
        options ??= RirOptions.Default;
        options.Validate();
        if (!room.Contains(source))
        {
            throw new ArgumentException($"Source {source} is outside the {room.LengthM} x {room.WidthM} x {room.HeightM} m room.", nameof(source));
        }

        if (!room.Contains(microphone))
        {
            throw new ArgumentException($"Microphone {microphone} is outside the {room.LengthM} x {room.WidthM} x {room.HeightM} m room.", nameof(microphone));
        }

        double directM = source.DistanceTo(microphone);
        if (directM < 0.01)
        {
            throw new ArgumentException($"Source and microphone are {directM} m apart; the direct path needs at least 1 cm.", nameof(source));
        }

        double fs = options.SampleRateHz;
        double samplesPerMetre = fs / options.SpeedOfSoundMps;
        double earlySeconds = options.EarlyReflectionsMs / 1000.0;
        double rt60 = room.EyringRt60Seconds;

        // Positions are in output samples. Arrival of an image at distance r: (r - rShift) * fs / c, computed
        // as a difference of distances so the direct path lands on exactly 0 when its delay is removed.
        double shiftM = options.RemoveDirectPathDelay ? directM : 0.0;
        double transition = (directM - shiftM) * samplesPerMetre + earlySeconds * fs;
        double crossfade = Math.Min(CrossfadeMs / 1000.0 * fs, transition);
        double fitWindow = Math.Min(FitWindowMs / 1000.0, earlySeconds / 2) * fs;

        int maxLength = Math.Max(1, (int)Math.Floor(options.MaxLengthSeconds * fs));
        int length = (int)Math.Min(maxLength, Math.Ceiling(transition + rt60 * fs) + 1);
        var response = new double[length];

        double scale = options.NormaliseDirectPath ? 4.0 * Math.PI * directM : 1.0;
        AddImageSources(response, room, source, microphone, directM + earlySeconds * options.SpeedOfSoundMps,
            shiftM, samplesPerMetre, scale, transition, crossfade);
        if (options.HighPassCutoffHz > 0)
        {
            AllenBerkleyHighPass(response, options.HighPassCutoffHz, fs);
        }

        // Tail level from the energy of the (high-passed) image-source samples in the window just before the
        // crossfade. Measured on samples rather than as the sum of squared image amplitudes because images at
        // equal distances (talker and microphone at the same height, say) add coherently, which the samples
        // show and the sum of squares does not. Expected window energy sum_{j=1..W} P e^(delta j) for P the
        // energy per sample at the crossfade start, delta the per-sample energy decay rate.
        double delta = SixtyDbInNepers / (rt60 * fs);
        double fadeStart = transition - crossfade;
        int fitEnd = (int)Math.Min(length, Math.Floor(fadeStart));
        int fitBegin = Math.Max(0, fitEnd - (int)Math.Round(fitWindow));
        double fitEnergy = 0;
        for (int n = fitBegin; n < fitEnd; n++)
        {
            fitEnergy += response[n] * response[n];
        }

        double fadeStartEnergy = fitEnergy * delta / double.ExpM1(delta * (fitEnd - fitBegin));
        double transitionEnergy = fadeStartEnergy * Math.Exp(-delta * crossfade);

        var tail = new double[length];
        if (AddDiffuseTail(tail, transition, crossfade, transitionEnergy, delta, seed))
        {
            // Filtered apart from the images (the filter is linear) so the fit above saw the filtered images.
            if (options.HighPassCutoffHz > 0)
            {
                AllenBerkleyHighPass(tail, options.HighPassCutoffHz, fs);
            }

            for (int n = 0; n < length; n++)
            {
                response[n] += tail[n];
            }
        }

        var result = new float[length];
        for (int i = 0; i < length; i++)
        {
            result[i] = (float)response[i];
        }

        return result;
    }

    /// <summary>
    /// Coordinate of image <paramref name="k"/> along one axis of a room of size <paramref name="size"/>:
    /// even k are translations k L + s, odd k mirror images (k + 1) L - s; either way |k| wall reflections.
    /// </summary>
    internal static double ImageCoordinate(int k, double size, double s) => (k & 1) == 0 ? k * size + s : (k + 1) * size - s;

    /// <summary>Adds every image within <paramref name="maxDistanceM"/> of the microphone, those in the crossfade faded out.</summary>
    private static void AddImageSources(double[] response, ShoeboxRoom room, Point3 source, Point3 mic, double maxDistanceM,
        double shiftM, double samplesPerMetre, double scale, double transition, double crossfade)
    {
        double maxSquared = maxDistanceM * maxDistanceM;
        int kx = (int)Math.Ceiling(maxDistanceM / room.LengthM) + 1;
        int ky = (int)Math.Ceiling(maxDistanceM / room.WidthM) + 1;
        int kz = (int)Math.Ceiling(maxDistanceM / room.HeightM) + 1;

        // beta^n for every reachable order, once.
        double beta = Math.Sqrt(1.0 - room.Absorption);
        var betaPower = new double[kx + ky + kz + 1];
        betaPower[0] = 1.0;
        for (int n = 1; n < betaPower.Length; n++)
        {
            betaPower[n] = betaPower[n - 1] * beta;
        }

        double fadeStart = transition - crossfade;
        int firstReflectionSample = shiftM > 0 ? 1 : 0;
        for (int i = -kx; i <= kx; i++)
        {
            double dx = ImageCoordinate(i, room.LengthM, source.X) - mic.X;
            double dx2 = dx * dx;
            if (dx2 > maxSquared)
            {
                continue;
            }

            for (int j = -ky; j <= ky; j++)
            {
                double dy = ImageCoordinate(j, room.WidthM, source.Y) - mic.Y;
                double dxy2 = dx2 + dy * dy;
                if (dxy2 > maxSquared)
                {
                    continue;
                }

                for (int k = -kz; k <= kz; k++)
                {
                    double dz = ImageCoordinate(k, room.HeightM, source.Z) - mic.Z;
                    double r2 = dxy2 + dz * dz;
                    if (r2 > maxSquared)
                    {
                        continue;
                    }

                    double r = Math.Sqrt(r2);
                    double amplitude = scale * betaPower[Math.Abs(i) + Math.Abs(j) + Math.Abs(k)] / (4.0 * Math.PI * r);
                    double position = (r - shiftM) * samplesPerMetre;
                    if (position > fadeStart)
                    {
                        // Cosine half of the energy-preserving crossfade (the tail takes the sine half).
                        amplitude *= Math.Cos(0.5 * Math.PI * Math.Min(1.0, (position - fadeStart) / crossfade));
                    }

                    // With the delay removed, sample 0 holds the direct path alone: a reflection's interpolator
                    // taps at or before sample 0 are dropped (see RirOptions.RemoveDirectPathDelay).
                    bool isDirect = i == 0 && j == 0 && k == 0;
                    AddFractionalImpulse(response, position, amplitude, isDirect ? 0 : firstReflectionSample);
                }
            }
        }
    }

    /// <summary>
    /// Adds amplitude * w(t) sinc(t), t = m - position, for the samples m &gt;= <paramref name="firstSample"/> within
    /// <see cref="SincHalfWidth"/> of <paramref name="position"/>, w the Hann window reaching 0 at the half width. sin(pi t) is one sine per
    /// call: sin(pi (q - f)) = -(-1)^q sin(pi f) for integer q, which also makes an integer position an exact
    /// single tap.
    /// </summary>
    internal static void AddFractionalImpulse(Span<double> response, double position, double amplitude, int firstSample = 0)
    {
        double whole = Math.Floor(position);
        double fraction = position - whole;
        int centre = (int)whole;
        int first = Math.Max(firstSample, centre - SincHalfWidth + 1);
        int last = Math.Min(response.Length - 1, centre + SincHalfWidth);
        if (fraction == 0)
        {
            if (centre >= firstSample && centre < response.Length)
            {
                response[centre] += amplitude;
            }

            return;
        }

        double sinPiFraction = Math.Sin(Math.PI * fraction);
        for (int m = first; m <= last; m++)
        {
            int q = m - centre;
            double t = q - fraction;
            double sinPiT = (q & 1) == 0 ? -sinPiFraction : sinPiFraction;
            double window = 0.5 * (1.0 + Math.Cos(Math.PI * t / SincHalfWidth));
            response[m] += amplitude * window * sinPiT / (Math.PI * t);
        }
    }

    /// <summary>
    /// Gaussian noise with expected energy per sample P exp(-delta (n - transition)), faded in with the sine
    /// half of the crossfade over the <paramref name="crossfade"/> samples before the transition. False when
    /// nothing was added (the response ends before the tail would start).
    /// </summary>
    private static bool AddDiffuseTail(double[] response, double transition, double crossfade, double transitionEnergy, double delta, ulong seed)
    {
        int start = Math.Max(0, (int)Math.Ceiling(transition - crossfade));
        if (start >= response.Length || !(transitionEnergy > 0))
        {
            return false;
        }

        var random = new SplitMix64(seed);
        double fadeStart = transition - crossfade;

        // Amplitude envelope sqrt(P) exp(-delta/2 (n - transition)), advanced by one multiplication per sample.
        double envelope = Math.Sqrt(transitionEnergy) * Math.Exp(-0.5 * delta * (start - transition));
        double step = Math.Exp(-0.5 * delta);
        for (int n = start; n < response.Length; n++)
        {
            double gain = envelope;
            if (n < transition)
            {
                gain *= Math.Sin(0.5 * Math.PI * (n - fadeStart) / crossfade);
            }

            response[n] += gain * random.NextGaussian();
            envelope *= step;
        }

        return true;
    }

    /// <summary>
    /// Allen and Berkley's high-pass: a zero at DC and one at R, poles at R e^(+-jW), W = 2 pi fc / fs,
    /// R = e^-W. y0 = x + 2R cos(W) y1 - R^2 y2; out = y0 - (1 + R) y1 + R y2. Its first tap is 1.
    /// </summary>
    internal static void AllenBerkleyHighPass(Span<double> samples, double cutoffHz, double sampleRateHz)
    {
        double w = 2.0 * Math.PI * cutoffHz / sampleRateHz;
        double r = Math.Exp(-w);
        double b1 = 2.0 * r * Math.Cos(w);
        double b2 = -r * r;
        double a1 = -(1.0 + r);
        double y1 = 0, y2 = 0;
        for (int n = 0; n < samples.Length; n++)
        {
            double y0 = samples[n] + b1 * y1 + b2 * y2;
            samples[n] = y0 + a1 * y1 + r * y2;
            y2 = y1;
            y1 = y0;
        }
    }
}

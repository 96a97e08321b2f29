namespace EdgeKws.Enroll;

/// <summary>Exit codes scripts can rely on (documented in docs/enrollment.md and --help).</summary>
internal static class ExitCodes
{
    /// <summary>All takes accepted; the new enrollment is stored.</summary>
    public const int Enrolled = 0;

    /// <summary>A take failed its checks too often, or the input ran out of takes; the previous enrollment is kept.</summary>
    public const int FailedQc = 1;

    /// <summary>Bad command line, agent config or phrase config.</summary>
    public const int Usage = 2;

    /// <summary>No microphone: the ALSA capture device could not be opened (or libasound is missing).</summary>
    public const int NoAudioDevice = 3;

    /// <summary>A WAV file is missing, unreadable or malformed.</summary>
    public const int BadWav = 4;

    /// <summary>The enrollment could not be written (state directory not writable, disk full); the previous one is kept.</summary>
    public const int StorageError = 5;

    /// <summary>Interrupted (Ctrl-C / SIGINT); the previous enrollment is kept.</summary>
    public const int Interrupted = 130;
}

namespace EdgeKws.Device.Audio;

/// <summary>
/// An ALSA failure with a message that names the device and carries ALSA's own text
/// (<c>snd_strerror</c>). <see cref="ErrorCode"/> is the negative errno ALSA returned (0 when the
/// failure was not an ALSA call, e.g. libasound missing or a wrong rate).
/// </summary>
public sealed class AlsaException : IOException
{
    public AlsaException(string message, int errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>Negative errno from libasound, e.g. -2 (ENOENT) for an unknown device.</summary>
    public int ErrorCode { get; }
}

using System.Runtime.InteropServices;

namespace EdgeKws.Device.Audio;

/// <summary>
/// The few libasound.so.2 entry points the capture source needs, bound with source-generated
/// <c>[LibraryImport]</c> so the agent stays NativeAOT-clean (no runtime marshalling stubs).
/// Types follow alsa-lib on LP64 Linux: <c>snd_pcm_uframes_t</c> is <c>unsigned long</c>
/// (<see cref="nuint"/>), <c>snd_pcm_sframes_t</c> is <c>long</c> (<see cref="nint"/>).
/// </summary>
internal static unsafe partial class LibAsound
{
    public const string LibraryName = "libasound.so.2";

    public const int StreamCapture = 1;          // SND_PCM_STREAM_CAPTURE
    public const int OpenNonBlock = 0x1;         // SND_PCM_NONBLOCK
    public const int AccessRwInterleaved = 3;    // SND_PCM_ACCESS_RW_INTERLEAVED
    public const int FormatS16Le = 2;            // SND_PCM_FORMAT_S16_LE
    public const int FormatS16Be = 3;            // SND_PCM_FORMAT_S16_BE

    public const int StatePrepared = 2;          // SND_PCM_STATE_PREPARED
    public const int StateRunning = 3;           // SND_PCM_STATE_RUNNING
    public const int StateXrun = 4;              // SND_PCM_STATE_XRUN
    public const int StateSuspended = 7;         // SND_PCM_STATE_SUSPENDED

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EPIPE = 32;                 // overrun (xrun)
    public const int ESTRPIPE = 86;              // stream suspended (system suspend)

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int snd_pcm_open(out nint pcm, string name, int stream, int mode);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_close(nint pcm);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_malloc(out nint parameters);

    [LibraryImport(LibraryName)]
    public static partial void snd_pcm_hw_params_free(nint parameters);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_any(nint pcm, nint parameters);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_access(nint pcm, nint parameters, int access);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_format(nint pcm, nint parameters, int format);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_channels(nint pcm, nint parameters, uint channels);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_rate_resample(nint pcm, nint parameters, uint enable);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_rate_near(nint pcm, nint parameters, ref uint rateHz, ref int dir);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_period_size_near(nint pcm, nint parameters, ref nuint frames, ref int dir);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params_set_buffer_size_near(nint pcm, nint parameters, ref nuint frames);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_hw_params(nint pcm, nint parameters);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_get_params(nint pcm, out nuint bufferFrames, out nuint periodFrames);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_prepare(nint pcm);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_start(nint pcm);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_state(nint pcm);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_wait(nint pcm, int timeoutMs);

    [LibraryImport(LibraryName)]
    public static partial nint snd_pcm_readi(nint pcm, void* buffer, nuint frames);

    [LibraryImport(LibraryName)]
    public static partial int snd_pcm_recover(nint pcm, int error, int silent);

    // const char* into a static table: must NOT be freed, so it is read by hand instead of
    // through the UTF-8 string marshaller (which would free the returned pointer).
    [LibraryImport(LibraryName)]
    private static partial nint snd_strerror(int error);

    /// <summary>ALSA's text for a (negative) error code, e.g. "No such file or directory".</summary>
    public static string StrError(int error)
    {
        var text = Marshal.PtrToStringUTF8(snd_strerror(error));
        return string.IsNullOrEmpty(text) ? $"error {error}" : text;
    }

    /// <summary>
    /// Loads libasound up front so a machine without it gets one clear message instead of a
    /// <see cref="DllNotFoundException"/> from the first P/Invoke.
    /// </summary>
    public static void EnsureLoaded(string libraryName = LibraryName)
    {
        if (NativeLibrary.TryLoad(libraryName, typeof(LibAsound).Assembly, null, out _))
        {
            return;
        }

        throw new AlsaException(
            $"ALSA library '{libraryName}' could not be loaded: it is not installed or not on the " +
            "loader path. Install it (Debian/Raspberry Pi OS: apt-get install libasound2) or use " +
            "another audio source (stdin, WAV).",
            errorCode: 0);
    }
}

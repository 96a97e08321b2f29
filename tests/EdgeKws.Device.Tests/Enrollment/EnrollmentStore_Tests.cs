using EdgeKws.Device.Enrollment;
using EdgeKws.Device.EnrollmentStress;
using EdgeKws.Device.Tests.Outbox;

namespace EdgeKws.Device.Tests.Enrollment;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class EnrollmentStore_Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Round_trips_every_feature_and_figure()
    {
        var store = new EnrollmentStore(_dir.Path);
        EnrollmentData data = StressEnrollments.Generation(42);
        store.Save(data);
        Assert.True(store.TryLoad(out EnrollmentData? loaded, out string reason), reason);
        Assert.True(data.ContentEquals(loaded!));
    }

    [Fact]
    public void Writes_the_file_0600_in_a_0700_directory_and_narrows_a_wider_existing_directory()
    {
        string dir = Path.Combine(_dir.Path, EnrollmentStore.DirectoryName);
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101); // 0755
        var store = new EnrollmentStore(_dir.Path);
        store.Save(StressEnrollments.Generation(1));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(store.Directory));
        Assert.False(File.Exists(store.TempPath));
    }

    [Fact]
    public void Replaces_the_previous_enrollment_and_ignores_a_leftover_temp_file()
    {
        var store = new EnrollmentStore(_dir.Path);
        store.Save(StressEnrollments.Generation(1));
        File.WriteAllBytes(store.TempPath, [1, 2, 3]); // what a write killed half-way leaves
        Assert.True(store.TryLoad(out EnrollmentData? before, out _));
        Assert.Equal(1, StressEnrollments.GenerationOf(before!));

        store.Save(StressEnrollments.Generation(2));
        Assert.True(store.TryLoad(out EnrollmentData? after, out _));
        Assert.Equal(2, StressEnrollments.GenerationOf(after!));
        Assert.False(File.Exists(store.TempPath));
    }

    [Fact]
    public void Refuses_a_file_with_one_flipped_bit_naming_the_digest()
    {
        var store = new EnrollmentStore(_dir.Path);
        store.Save(StressEnrollments.Generation(3));
        byte[] bytes = File.ReadAllBytes(store.FilePath);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(store.FilePath, bytes);
        Assert.False(store.TryLoad(out EnrollmentData? data, out string reason));
        Assert.Null(data);
        Assert.Contains("SHA-256 does not match", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_truncated_file_naming_the_length_mismatch()
    {
        byte[] bytes = EnrollmentStore.Serialize(StressEnrollments.Generation(4));
        Assert.False(EnrollmentStore.TryDeserialize(bytes.AsSpan(0, bytes.Length - 100), out _, out string reason));
        Assert.Contains("torn write", reason, StringComparison.Ordinal);
        Assert.False(EnrollmentStore.TryDeserialize("not an enrollment"u8, out _, out reason));
        Assert.Contains("bad magic", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Says_there_is_no_enrollment_when_none_was_stored()
    {
        var store = new EnrollmentStore(_dir.Path);
        Assert.False(store.Exists);
        Assert.False(store.TryLoad(out _, out string reason));
        Assert.StartsWith("no enrollment at ", reason, StringComparison.Ordinal);
    }
}

namespace EdgeKws.Gateway.Storage;

/// <summary>Argument rules of the governance members (<see cref="GovernanceStore"/>): both databases refuse the same input with the same words.</summary>
internal static class GovernanceArgumentRules
{
    public const int MaxIdLength = 128;

    public static void ValidateDataset(string datasetId, IReadOnlyList<DatasetMember> members)
    {
        ValidateId(datasetId, "dataset id");
        ArgumentNullException.ThrowIfNull(members);
        for (int i = 0; i < members.Count; i++)
        {
            DatasetMember m = members[i] ?? throw new ArgumentException($"dataset member {i} is null", nameof(members));
            ValidateId(m.DeviceId, $"dataset member {i} device id");
            ValidateId(m.ClipId, $"dataset member {i} clip id");
        }
    }

    public static void ValidateModelDataset(string modelVersion, string datasetId)
    {
        ValidateId(modelVersion, "model version");
        ValidateId(datasetId, "dataset id");
    }

    private static void ValidateId(string? value, string what)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxIdLength || value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{what} '{value}' must be 1..{MaxIdLength} characters, not blank, without NUL");
        }
    }
}

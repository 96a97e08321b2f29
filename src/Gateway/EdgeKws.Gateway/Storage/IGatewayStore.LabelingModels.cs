namespace EdgeKws.Gateway.Storage;

/// <summary>Kinds of <see cref="LabelingModelRecord"/>.</summary>
public static class LabelingModelKinds
{
    /// <summary>A gateway verifier: a keyword model over the device's MFCCs whose clip score is one of a label's signals.</summary>
    public const string Verifier = "verifier";

    /// <summary>A label calibration (<c>edgekws-label-calibration/1</c>): the signals' weights into P(wake phrase).</summary>
    public const string Calibration = "calibration";
}

/// <summary>
/// A model the labeling worker decides labels with, as the registry keeps it: the file itself (by content hash) and its lineage.
/// Device models have their own registry (<see cref="IRolloutStore"/>: signed, staged, rolled out); these never leave the gateway.
/// </summary>
/// <param name="Sha256">SHA-256 of the file (lower-case hex): the record's key; a label's provenance names its prefix.</param>
/// <param name="Kind"><see cref="LabelingModelKinds"/>.</param>
/// <param name="Version">The verifier's model version, or the calibration's (its file's hash prefix when it has none).</param>
/// <param name="FileName">The file's name when it was registered.</param>
/// <param name="SizeBytes">The file's length.</param>
/// <param name="RegisteredUtc">When this gateway first registered it.</param>
/// <param name="LineageJson">What it was made from, as a JSON object: for a verifier its manifest and training manifest (dataset,
/// trainer commit, seed, hyperparameters), for a calibration what it was fitted on and with which models.</param>
public sealed record LabelingModelRecord(string Sha256, string Kind, string Version, string FileName, long SizeBytes, DateTimeOffset RegisteredUtc, string LineageJson);

/// <summary>The labeling-model concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : ILabelingModelStore
{
}

/// <summary>The labeling models' registry (schema step 11: table <c>labeling_models</c>). One implementation over both databases
/// (<see cref="LabelingModelStore"/>).</summary>
public interface ILabelingModelStore
{
    /// <summary>Adds the record with its file; false (nothing written) when a file of that hash is registered already.</summary>
    bool TryAddLabelingModel(LabelingModelRecord record, byte[] content);

    /// <summary>Every registered labeling model, newest first (without the files).</summary>
    IReadOnlyList<LabelingModelRecord> ReadLabelingModels();

    /// <summary>The registered file of that hash, or false.</summary>
    bool TryGetLabelingModelContent(string sha256, out byte[]? content);
}

namespace EdgeKws.Gateway.Storage;

/// <summary>The <c>labels.source</c> text of a label, by who decided it: the one format both databases store and the API and the
/// labeling worker write.</summary>
internal static class LabelSources
{
    /// <summary>The label source text of a review decision.</summary>
    public static string Review(string reviewer) => "review:" + reviewer;

    /// <summary>The label source text of an automatic label (cut to the label source limit; the full tool is in the provenance).</summary>
    public static string Aligner(string tool)
    {
        string s = "aligner:" + tool;
        return s.Length <= MonitoringArgumentRules.MaxLabelSourceLength ? s : s[..MonitoringArgumentRules.MaxLabelSourceLength];
    }
}

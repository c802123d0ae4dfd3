using System.Text.RegularExpressions;
using TeleSuivi.Server.Alerts;
using TeleSuivi.Tests.Devices.Profiles;

namespace TeleSuivi.Tests.Board;

public sealed partial class EvidenceLabelsTests
{
    [Fact]
    public void EvidenceFr_EveryLabelTheEngineWrites_HasAFrenchTranslationOnTheBoard()
    {
        var commonJs = File.ReadAllText(Path.Combine(IngestExamples.IngestDirectory, "..", "src", "TeleSuivi.Server", "wwwroot", "common.js"));
        var map = EvidenceMap().Match(commonJs);
        Assert.True(map.Success, "no EVIDENCE_FR map in common.js");
        var translated = Entry().Matches(map.Groups[1].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value, StringComparer.Ordinal);

        Assert.All(EvidenceLabels.All, label => Assert.True(translated.ContainsKey(label), $"\"{label}\" has no French in EVIDENCE_FR"));
        Assert.All(VitalSigns.All, vital => Assert.Equal(vital.Name.Fr, translated[vital.Name.En]));
    }

    [GeneratedRegex(@"const EVIDENCE_FR = \{(.*?)\};", RegexOptions.Singleline)]
    private static partial Regex EvidenceMap();

    [GeneratedRegex("""'([^']+)': (?:'([^']*)'|"([^"]*)")""")]
    private static partial Regex Entry();
}

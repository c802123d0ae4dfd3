using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Tests.Risk;

public sealed class RiskExplainerTests
{
    private static float[] Features(params (string Name, float Value)[] values)
    {
        var features = new float[FeatureSchema.VectorLength];
        Array.Fill(features, float.NaN);
        foreach (var (name, value) in values)
        {
            features[FeatureSchema.Index(name)] = value;
        }

        return features;
    }

    private static float[] Contributions(params (string Name, float Value)[] values)
    {
        var contributions = new float[FeatureSchema.Count];
        foreach (var (name, value) in values)
        {
            contributions[FeatureSchema.Index(name)] = value;
        }

        return contributions;
    }

    [Fact]
    public void Explain_KnownContributions_TopicsByTotalWithThePatientsValues()
    {
        var features = Features(
            ("male", 0), ("oxygen-saturation:last", 92), ("oxygen-saturation:hours-since", 3), ("oxygen-saturation:mean-24h", 92.2f),
            ("oxygen-saturation:baseline", 95), ("oxygen-saturation:deviation", -3.1f),
            ("ambient-pm25:mean-lag0-2", 45.4f), ("ambient-pm25:max-lag0-7", 62), ("ambient-pm25:mean-lag0-7", 30),
            ("heart-rate:last", 88), ("heart-rate:hours-since", 30));
        var contributions = Contributions(
            ("oxygen-saturation:deviation", 0.6f), ("oxygen-saturation:slope-72h", 0.2f), ("oxygen-saturation:mean-24h", -0.1f),
            ("ambient-pm25:mean-lag0-2", 0.3f), ("heart-rate:hours-since", 0.1f), ("age", -0.5f));

        var reasons = RiskExplainer.Explain(features, contributions);

        Assert.Equal(["oxygen-saturation", "ambient-pm25", "heart-rate"], reasons.Select(r => r.Topic));
        Assert.Equal(0.7, reasons[0].Contribution, 5);
        Assert.Equal("SpO2 92 % over the last 24 h, 3 points below her usual 95 %", reasons[0].Sentence);
        Assert.Equal("PM2.5 averaged 45 µg/m³ over the last 3 days (highest daily mean in 8 days 62 µg/m³)", reasons[1].Sentence);
        Assert.Equal("No heart rate reading for 30 h (latest 88 /min)", reasons[2].Sentence);
    }

    [Fact]
    public void Sentence_VitalsOffTogether_NamesEachWithItsDeviation()
    {
        var features = new float[FeatureSchema.VectorLength];
        FeatureTests.TwoVitalsOff().Compute(new DateTimeOffset(2025, 3, 31, 12, 0, 0, TimeSpan.Zero), null, features);

        Assert.Equal("vitals", RiskExplainer.TopicOf("vitals-deviating-24h"));
        Assert.Equal(
            "2 vital signs off the usual together in the direction of illness over the last 24 h (in SDs: heart rate 2.0, SpO2 2.0)",
            RiskExplainer.Sentence(features, FeatureSchema.Index("vitals-deviation-24h")));
    }

    [Fact]
    public void Sentence_RecordedExacerbations_CountAndDaysSinceTheLatest()
    {
        var features = Features(("exacerbations-365d", 2), ("days-since-exacerbation", 20.4f), ("exacerbation-within-9w", 1));
        Assert.Equal("history", RiskExplainer.TopicOf("exacerbation-within-9w"));
        Assert.Equal("2 exacerbation(s) recorded in the last year, the latest 20 days ago", RiskExplainer.Sentence(features, FeatureSchema.Index("exacerbation-within-9w")));
        Assert.Equal("2 exacerbation(s) enregistrée(s) sur la dernière année, la dernière il y a 20 jours", RiskExplainer.Phrase(features, FeatureSchema.Index("days-since-exacerbation")));
    }

    [Fact]
    public void Sentence_YearBeforeEnrolment_SaidBeforeWhatTheProgrammeRecorded()
    {
        var none = Features((FeatureSchema.PriorYearExacerbations, 3), ("exacerbations-365d", 0));
        Assert.Equal("history", RiskExplainer.TopicOf(FeatureSchema.PriorYearExacerbations));
        Assert.Equal(
            "3 exacerbation(s) in the year before enrolment; no exacerbation recorded since",
            RiskExplainer.Sentence(none, FeatureSchema.Index(FeatureSchema.PriorYearExacerbations)));

        var some = Features((FeatureSchema.PriorYearExacerbations, 2), ("exacerbations-365d", 1), ("days-since-exacerbation", 40));
        Assert.Equal(
            "2 exacerbation(s) dans l'année précédant l'inclusion ; 1 enregistrée(s) sur la dernière année, la dernière il y a 40 jours",
            RiskExplainer.Phrase(some, FeatureSchema.Index("exacerbations-365d")));
    }

    [Fact]
    public void Sentence_FewerReadingsThanUsual_ShareAndSilentMeasures()
    {
        var features = Features(("readings-24h-vs-usual", 0.25f), ("measures-silent-24h", 1), ("hours-since-any-reading", 5));
        Assert.Equal("data", RiskExplainer.TopicOf("readings-24h-vs-usual"));
        Assert.Equal(
            "Readings missing: 25 % of the usual daily number of readings in the last 24 h; 1 measure(s) read this week silent for 24 h",
            RiskExplainer.Sentence(features, FeatureSchema.Index("readings-24h-vs-usual")));
        Assert.Equal("No reading from any device for 5 h", RiskExplainer.Sentence(features, FeatureSchema.Index("hours-since-any-reading")));
    }

    [Fact]
    public void Sentence_WeightChange_KilogramsInThreeDays()
    {
        var features = Features(("male", 1), ("body-weight:last", 84.2f), ("body-weight:change-3d", 2.4f));
        Assert.Equal("Weight up 2.4 kg in 3 days (latest 84.2 kg)", RiskExplainer.Sentence(features, FeatureSchema.Index("body-weight:change-3d")));
    }

    [Fact]
    public void Sentence_StepsBelowBaseline_PercentOfHisUsual()
    {
        var features = Features(("male", 1), ("steps:mean-24h", 2900), ("steps:baseline", 3550), ("steps:last", 2900));
        Assert.Equal("Steps 2,900 a day in the last 24 h, 18 % below his usual 3,550 a day", RiskExplainer.Sentence(features, FeatureSchema.Index("steps:deviation")));
    }

    [Fact]
    public void Sentence_NoBaselineYet_SaysSo()
    {
        var features = Features(("male", 0), ("respiratory-rate:mean-24h", 22));
        Assert.Equal(
            "Breathing rate 22 /min over the last 24 h; no usual value yet (fewer than 10 days of readings in the last 4 weeks)",
            RiskExplainer.Sentence(features, FeatureSchema.Index("respiratory-rate:deviation")));
    }

    [Theory]
    [InlineData("oxygen-saturation:hours-since", "No SpO2 reading yet")]
    [InlineData("heart-rate:hours-since", "No heart rate reading yet")]
    public void Sentence_NoReadingYet_NameWrittenAsInTheMiddleOfASentence(string feature, string expected)
    {
        Assert.Equal(expected, RiskExplainer.Sentence(Features(("male", 0)), FeatureSchema.Index(feature)));
    }

    [Fact]
    public void Sentence_Profile_ConditionsSeverityAge()
    {
        var features = Features(("copd", 1), ("heart-failure", 1), ("diabetes", 0), ("frail-elderly", 0), ("severity", 3), ("age", 81));
        Assert.Equal("Underlying risk: COPD with heart failure, severity 3 of 4, aged 81", RiskExplainer.Sentence(features, FeatureSchema.Index("severity")));
    }

    [Fact]
    public void Explain_OnlyNegativeContributions_NoReason()
    {
        var features = Features(("male", 0));
        Assert.Empty(RiskExplainer.Explain(features, Contributions(("age", -0.2f), ("heart-rate:last", -0.1f))));
    }

    [Fact]
    public void Explain_DeviationWithItsDuration_EnglishAndFrenchSentences()
    {
        var features = Features(
            ("male", 0), ("oxygen-saturation:mean-24h", 92.2f), ("oxygen-saturation:baseline", 95), ("oxygen-saturation:deviation-hours", 36),
            ("ambient-pm25:mean-lag0-2", 45.4f), ("ambient-pm25:max-lag0-7", 62), ("ambient-pm25:mean-lag0-7", 30), ("ambient-pm25:days-beyond-level", 3));
        var contributions = Contributions(("oxygen-saturation:deviation", 0.6f), ("ambient-pm25:mean-lag0-2", 0.3f));

        var reasons = RiskExplainer.Explain(features, contributions);

        Assert.Equal("SpO2 92 % over the last 24 h, 3 points below her usual 95 %, for 36 h", reasons[0].Sentence);
        Assert.Equal("SpO2 92 % sur les dernières 24 h, 3 points en dessous de sa valeur habituelle de 95 %, depuis 36 h", reasons[0].Phrase);
        Assert.Equal("PM2.5 above 25 µg/m³ for 3 days (mean of the last 3 days 45 µg/m³, highest daily mean in 8 days 62 µg/m³)", reasons[1].Sentence);
        Assert.Equal("PM2.5 au-dessus de 25 µg/m³ depuis 3 jours (moyenne des 3 derniers jours 45 µg/m³, plus forte moyenne journalière sur 8 jours 62 µg/m³)", reasons[1].Phrase);
    }

    [Fact]
    public void Sentence_WeightChangeInFrench_DecimalComma()
    {
        var features = Features(("male", 1), ("body-weight:last", 84.2f), ("body-weight:change-3d", 2.4f));
        Assert.Equal("Poids en hausse de 2,4 kg en 3 jours (dernière valeur 84,2 kg)", RiskExplainer.Phrase(features, FeatureSchema.Index("body-weight:change-3d")));
    }

    [Fact]
    public void Sentence_LongDeviation_CountedInDays()
    {
        var features = Features(("male", 1), ("body-weight:mean-24h", 86.1f), ("body-weight:baseline", 83.0f), ("body-weight:deviation-hours", 130));
        Assert.Equal("Weight 86.1 kg over the last 24 h, 3.1 kg above his usual 83.0 kg, for 5 days", RiskExplainer.Sentence(features, FeatureSchema.Index("body-weight:deviation")));
    }
}

namespace TeleSuivi.Devices.Normalization;

/// <summary>One code of a code system, as it goes into a FHIR Coding.</summary>
public sealed record MeasureCoding(string System, string Code, string Display);

/// <summary>How the value of a measure is written in the Observation.</summary>
public enum MeasureValueKind
{
    /// <summary><c>valueQuantity</c> in the canonical UCUM unit.</summary>
    Quantity,

    /// <summary><c>valueInteger</c>: questionnaire scores and grades, which have no unit.</summary>
    Score,

    /// <summary><c>valueBoolean</c>: 1 is true, 0 is false (dose taken, symptom present).</summary>
    YesNo,
}

/// <summary>
/// The values a measure can physically take, in its canonical unit. A value outside is a device or transmission
/// fault, never a patient state, and is rejected; a plausible-but-abnormal value is inside and is kept.
/// </summary>
public sealed record PlausibleRange(double Min, double Max, bool MinInclusive = true, bool MaxInclusive = true)
{
    public bool Contains(double value) =>
        (MinInclusive ? value >= Min : value > Min) && (MaxInclusive ? value <= Max : value < Max);

    public string Describe(string unit) =>
        (MinInclusive, MaxInclusive) switch
        {
            (true, true) => FormattableString.Invariant($"{Min}–{Max} {unit}"),
            (false, false) => FormattableString.Invariant($"above {Min} and below {Max} {unit}"),
            (true, false) => FormattableString.Invariant($"from {Min} to below {Max} {unit}"),
            _ => FormattableString.Invariant($"above {Min} up to {Max} {unit}"),
        };

    /// <summary><see cref="Describe"/> in French, with a decimal comma.</summary>
    public string DescribeFr(string unit) =>
        (MinInclusive, MaxInclusive) switch
        {
            (true, true) => RejectionReason.French($"{Min}–{Max} {unit}"),
            (false, false) => RejectionReason.French($"plus de {Min} et moins de {Max} {unit}"),
            (true, false) => RejectionReason.French($"de {Min} à moins de {Max} {unit}"),
            _ => RejectionReason.French($"plus de {Min} et jusqu'à {Max} {unit}"),
        };
}

/// <summary>
/// A code that replaces the measure's own code for one sample type (glucose: capillary blood vs plasma), or a
/// reason to reject readings of that sample type. Matched when the specimen qualifier contains <see cref="Keyword"/>.
/// </summary>
public sealed record SpecimenVariant(string Keyword, MeasureCoding? Code, string? RejectReason = null, string? RejectReasonFr = null);

/// <summary>Everything the platform knows about one measure key: how to code it, its unit, and its limits.</summary>
public sealed record MeasureDefinition
{
    /// <summary>The key decoders and profiles use, e.g. "body-weight".</summary>
    public required string Key { get; init; }

    /// <summary>The measure's name in French, for the reasons a French board shows when one of its readings is rejected.</summary>
    public required string NameFr { get; init; }

    /// <summary>The primary code: LOINC where an honest one exists, else the TeleSuivi code system.</summary>
    public required MeasureCoding Code { get; init; }

    /// <summary>Further codings (the IEEE 11073-10101 MDC code; 2708-6 beside 59408-5 for SpO2).</summary>
    public IReadOnlyList<MeasureCoding> AdditionalCodings { get; init; } = [];

    /// <summary>A code of http://terminology.hl7.org/CodeSystem/observation-category, or of <see cref="MeasureCatalog.LocalCategorySystem"/>.</summary>
    public required string Category { get; init; }

    /// <summary>The one canonical UCUM code every value is converted to (for <see cref="MeasureValueKind.Quantity"/>).</summary>
    public required string Unit { get; init; }

    /// <summary>The human-readable unit written in <c>Quantity.unit</c>.</summary>
    public required string UnitDisplay { get; init; }

    /// <summary><see cref="UnitDisplay"/> as a French reader writes it (symbols stay as they are).</summary>
    public string UnitDisplayFr => UnitDisplay switch
    {
        "beats/minute" => "battements/min",
        "breaths/minute" => "respirations/min",
        "events/hour" => "événements/h",
        "steps/day" => "pas/jour",
        "index" => "indice",
        _ => UnitDisplay,
    };

    public MeasureValueKind Kind { get; init; } = MeasureValueKind.Quantity;

    /// <summary>Physically possible values in <see cref="Unit"/>; null when any value of the kind is possible.</summary>
    public PlausibleRange? Range { get; init; }

    /// <summary>For a panel: the measure keys of its components, in the order they are written.</summary>
    public IReadOnlyList<string> Components { get; init; } = [];

    /// <summary>For a panel: the components without which the panel means nothing (systolic and diastolic).</summary>
    public IReadOnlyList<string> RequiredComponents { get; init; } = [];

    /// <summary>g/mol, for the conversion between mass and substance concentration that UCUM alone cannot do.</summary>
    public double? MolarMass { get; init; }

    /// <summary>The FHIR core profile the Observation conforms to (vital signs), written in <c>meta.profile</c>.</summary>
    public string? FhirProfile { get; init; }

    /// <summary>Codes by sample type, checked in order; the measure's own <see cref="Code"/> applies when no specimen is given.</summary>
    public IReadOnlyList<SpecimenVariant> SpecimenVariants { get; init; } = [];

    public bool IsPanel => Components.Count > 0;
}

/// <summary>
/// The measures TeleSuivi records, keyed by the names decoders and profiles use.
/// </summary>
/// <remarks>
/// A C# table rather than a data file: a measure is a clinical decision reviewed with the code (which LOINC term,
/// which canonical unit, which limits), every profile and decoder depends on it, and a typo here must fail the
/// build and the catalogue tests rather than a profile at run time. Manufacturers stay pure data in <c>ingest/</c>.
/// Every LOINC code was checked against its LOINC long common name; where LOINC has no honest term the code is
/// from <see cref="LocalSystem"/> and says so.
/// </remarks>
public static class MeasureCatalog
{
    public const string Loinc = "http://loinc.org";
    public const string Mdc = "urn:iso:std:iso:11073:10101";
    public const string LocalSystem = "https://telesuivi.org/fhir/CodeSystem/measure";
    public const string CategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category";

    /// <summary>Categories FHIR does not define (indoor environment); everything else uses <see cref="CategorySystem"/>.</summary>
    public const string LocalCategorySystem = "https://telesuivi.org/fhir/CodeSystem/observation-category";

    private static MeasureCoding L(string code, string display) => new(Loinc, code, display);

    private static MeasureCoding M(string code, string display) => new(Mdc, code, display);

    private static MeasureCoding Local(string code, string display) => new(LocalSystem, code, display);

    private static readonly MeasureDefinition[] Definitions =
    [
        // --- Vital signs. Codes and units follow the FHIR R4 vital-signs profiles. ---
        new()
        {
            Key = "blood-pressure", NameFr = "tension artérielle", Code = L("85354-9", "Blood pressure panel with all children optional"),
            AdditionalCodings = [M("150020", "MDC_PRESS_BLD_NONINV")],
            Category = "vital-signs", Unit = "mm[Hg]", UnitDisplay = "mmHg",
            Components = ["systolic-pressure", "diastolic-pressure", "mean-arterial-pressure"],
            RequiredComponents = ["systolic-pressure", "diastolic-pressure"],
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/bp",
        },
        new()
        {
            Key = "systolic-pressure", NameFr = "pression systolique", Code = L("8480-6", "Systolic blood pressure"),
            AdditionalCodings = [M("150021", "MDC_PRESS_BLD_NONINV_SYS")],
            Category = "vital-signs", Unit = "mm[Hg]", UnitDisplay = "mmHg", Range = new(30, 300),
        },
        new()
        {
            Key = "diastolic-pressure", NameFr = "pression diastolique", Code = L("8462-4", "Diastolic blood pressure"),
            AdditionalCodings = [M("150022", "MDC_PRESS_BLD_NONINV_DIA")],
            Category = "vital-signs", Unit = "mm[Hg]", UnitDisplay = "mmHg", Range = new(10, 200),
        },
        new()
        {
            Key = "mean-arterial-pressure", NameFr = "pression artérielle moyenne", Code = L("8478-0", "Mean blood pressure"),
            AdditionalCodings = [M("150023", "MDC_PRESS_BLD_NONINV_MEAN")],
            Category = "vital-signs", Unit = "mm[Hg]", UnitDisplay = "mmHg", Range = new(15, 250),
        },
        new()
        {
            // Home devices (cuffs, oximeters, wrist sensors) measure the pulse, hence MDC_PULS_RATE_NON_INV;
            // an ECG-derived rate is the separate ecg-heart-rate measure.
            Key = "heart-rate", NameFr = "fréquence cardiaque", Code = L("8867-4", "Heart rate"),
            AdditionalCodings = [M("149546", "MDC_PULS_RATE_NON_INV")],
            Category = "vital-signs", Unit = "/min", UnitDisplay = "beats/minute",
            Range = new(0, 400, MinInclusive: false, MaxInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/heartrate",
        },
        new()
        {
            // The vital-signs oxygensat profile requires 2708-6 beside the pulse-oximetry code.
            Key = "oxygen-saturation", NameFr = "saturation en oxygène (SpO2)", Code = L("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
            AdditionalCodings = [L("2708-6", "Oxygen saturation in Arterial blood"), M("150456", "MDC_PULS_OXIM_SAT_O2")],
            Category = "vital-signs", Unit = "%", UnitDisplay = "%",
            Range = new(0, 100, MinInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/oxygensat",
        },
        new()
        {
            Key = "body-temperature", NameFr = "température corporelle", Code = L("8310-5", "Body temperature"),
            AdditionalCodings = [M("150364", "MDC_TEMP_BODY")],
            Category = "vital-signs", Unit = "Cel", UnitDisplay = "°C",
            Range = new(25, 45, MinInclusive: false, MaxInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/bodytemp",
        },
        new()
        {
            Key = "body-weight", NameFr = "poids", Code = L("29463-7", "Body weight"),
            AdditionalCodings = [M("188736", "MDC_MASS_BODY_ACTUAL")],
            Category = "vital-signs", Unit = "kg", UnitDisplay = "kg",
            Range = new(0, 500, MinInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/bodyweight",
        },
        new()
        {
            Key = "body-height", NameFr = "taille", Code = L("8302-2", "Body height"),
            AdditionalCodings = [M("188740", "MDC_LEN_BODY_ACTUAL")],
            Category = "vital-signs", Unit = "cm", UnitDisplay = "cm",
            Range = new(0, 300, MinInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/bodyheight",
        },
        new()
        {
            Key = "bmi", NameFr = "IMC", Code = L("39156-5", "Body mass index (BMI) [Ratio]"),
            AdditionalCodings = [M("188752", "MDC_RATIO_MASS_BODY_LEN_SQ")],
            Category = "vital-signs", Unit = "kg/m2", UnitDisplay = "kg/m2",
            Range = new(0, 250, MinInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/bmi",
        },
        new()
        {
            Key = "respiratory-rate", NameFr = "fréquence respiratoire", Code = L("9279-1", "Respiratory rate"),
            AdditionalCodings = [M("151562", "MDC_RESP_RATE")],
            Category = "vital-signs", Unit = "/min", UnitDisplay = "breaths/minute",
            Range = new(0, 150, MinInclusive: false, MaxInclusive: false),
            FhirProfile = "http://hl7.org/fhir/StructureDefinition/resprate",
        },

        // --- Body composition (bio-impedance scales). No LOINC term exists for bone mass or fat-free mass in kg:
        //     those two are local codes rather than a near-miss LOINC code. ---
        new()
        {
            Key = "body-fat-percentage", NameFr = "taux de masse grasse", Code = L("41982-0", "Percentage of body fat Measured"),
            AdditionalCodings = [M("188748", "MDC_BODY_FAT")],
            Category = "exam", Unit = "%", UnitDisplay = "%", Range = new(0, 100, MinInclusive: false, MaxInclusive: false),
        },
        new()
        {
            Key = "fat-mass", NameFr = "masse grasse", Code = L("73708-0", "Body fat [Mass] Calculated"),
            Category = "exam", Unit = "kg", UnitDisplay = "kg", Range = new(0, 500, MinInclusive: false),
        },
        new()
        {
            Key = "fat-free-mass", NameFr = "masse maigre", Code = Local("fat-free-mass", "Fat-free body mass"),
            Category = "exam", Unit = "kg", UnitDisplay = "kg", Range = new(0, 500, MinInclusive: false),
        },
        new()
        {
            Key = "muscle-mass", NameFr = "masse musculaire", Code = L("73964-9", "Body muscle mass Calculated"),
            Category = "exam", Unit = "kg", UnitDisplay = "kg", Range = new(0, 500, MinInclusive: false),
        },
        new()
        {
            Key = "body-water-mass", NameFr = "masse hydrique", Code = L("101683-1", "Body water mass"),
            Category = "exam", Unit = "kg", UnitDisplay = "kg", Range = new(0, 500, MinInclusive: false),
        },
        new()
        {
            Key = "body-water-percentage", NameFr = "taux d'eau corporelle", Code = L("101684-9", "Percentage of body water"),
            Category = "exam", Unit = "%", UnitDisplay = "%", Range = new(0, 100, MinInclusive: false, MaxInclusive: false),
        },
        new()
        {
            Key = "bone-mass", NameFr = "masse osseuse", Code = Local("bone-mass", "Body bone mass"),
            Category = "exam", Unit = "kg", UnitDisplay = "kg", Range = new(0, 50, MinInclusive: false),
        },

        // --- Glucose. Canonical mmol/L (SI, what GATT meters send as mol/L, and decimal-friendly); the LOINC code
        //     must then be a [Moles/volume] one. mg/dL and g/L convert through the molar mass of glucose. ---
        new()
        {
            Key = "glucose", NameFr = "glycémie", Code = L("14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer"),
            AdditionalCodings = [M("160184", "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD")],
            Category = "laboratory", Unit = "mmol/L", UnitDisplay = "mmol/L", MolarMass = 180.156,
            Range = new(0, 150, MinInclusive: false),
            SpecimenVariants =
            [
                new("control", null, "a control-solution test, not a patient reading", "un test à la solution de contrôle, pas une mesure du patient"),
                new("capillary-plasma", L("14749-6", "Glucose [Moles/volume] in Serum or Plasma")),
                new("plasma", L("14749-6", "Glucose [Moles/volume] in Serum or Plasma")),
                new("capillary", L("14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer")),
                new("venous", L("15074-8", "Glucose [Moles/volume] in Blood")),
                new("arterial", L("15074-8", "Glucose [Moles/volume] in Blood")),
                new("whole-blood", L("15074-8", "Glucose [Moles/volume] in Blood")),
                new("interstitial", Local("glucose-interstitial-fluid", "Glucose [Moles/volume] in Interstitial fluid")),
            ],
        },

        // --- Respiratory function. ---
        new()
        {
            Key = "peak-expiratory-flow", NameFr = "débit expiratoire de pointe", Code = L("19935-6", "Maximum expiratory gas flow Respiratory system airway"),
            AdditionalCodings = [M("152584", "MDC_FLOW_AWAY_EXP_FORCED_PEAK")],
            Category = "exam", Unit = "L/min", UnitDisplay = "L/min", Range = new(0, 1200, MinInclusive: false),
        },
        new()
        {
            Key = "fev1", NameFr = "VEMS", Code = L("20150-9", "FEV1"),
            Category = "exam", Unit = "L", UnitDisplay = "L", Range = new(0, 10, MinInclusive: false),
        },
        new()
        {
            Key = "fvc", NameFr = "capacité vitale forcée", Code = L("19868-9", "FVC"),
            Category = "exam", Unit = "L", UnitDisplay = "L", Range = new(0, 12, MinInclusive: false),
        },

        // --- Cardiac rhythm (ECG patches, chest straps). ---
        new()
        {
            Key = "ecg-heart-rate", NameFr = "fréquence cardiaque (ECG)", Code = L("76282-3", "Heart rate.beat-to-beat by EKG"),
            AdditionalCodings = [M("147842", "MDC_ECG_HEART_RATE")],
            Category = "vital-signs", Unit = "/min", UnitDisplay = "beats/minute",
            Range = new(0, 400, MinInclusive: false, MaxInclusive: false),
        },
        new()
        {
            Key = "rr-interval", NameFr = "intervalle RR", Code = Local("rr-interval", "R-R interval"),
            Category = "exam", Unit = "ms", UnitDisplay = "ms", Range = new(100, 10000),
        },
        new()
        {
            // The pulse amplitude index of the GATT pulse oximeter service: the perfusion index of the 11073 term.
            Key = "pulse-amplitude-index", NameFr = "indice d'amplitude du pouls", Code = Local("pulse-amplitude-index", "Pulse amplitude index (perfusion index)"),
            AdditionalCodings = [M("150448", "MDC_PULS_OXIM_PERF_REL")],
            Category = "vital-signs", Unit = "%", UnitDisplay = "%", Range = new(0, 100),
        },

        // --- Activity and sleep. ---
        new()
        {
            Key = "steps", NameFr = "nombre de pas", Code = L("41950-7", "Number of steps in 24 hour Measured"),
            Category = "activity", Unit = "/d", UnitDisplay = "steps/day", Range = new(0, 200000),
        },
        new()
        {
            Key = "sleep-duration", NameFr = "durée de sommeil", Code = L("93832-4", "Sleep duration"),
            Category = "activity", Unit = "h", UnitDisplay = "h", Range = new(0, 24),
        },
        new()
        {
            Key = "energy-expended", NameFr = "énergie dépensée", Code = L("41981-2", "Calories burned"),
            Category = "activity", Unit = "kcal", UnitDisplay = "kcal", Range = new(0, 50000),
        },

        // --- Therapy: oxygen, CPAP, medication. ---
        new()
        {
            Key = "oxygen-flow-rate", NameFr = "débit d'oxygène", Code = L("3151-8", "Inhaled oxygen flow rate"),
            Category = "therapy", Unit = "L/min", UnitDisplay = "L/min", Range = new(0, 60),
        },
        new()
        {
            Key = "cpap-usage", NameFr = "durée d'utilisation de la PPC", Code = Local("cpap-usage", "CPAP usage duration per night"),
            Category = "therapy", Unit = "h", UnitDisplay = "h", Range = new(0, 24),
        },
        new()
        {
            // The residual AHI a CPAP reports for its session: LOINC's index term has a 24 h time aspect.
            Key = "apnea-hypopnea-index", NameFr = "index d'apnées-hypopnées", Code = L("69990-0", "Apnea hypopnea index 24 hour"),
            Category = "therapy", Unit = "/h", UnitDisplay = "events/hour", Range = new(0, 200),
        },
        new()
        {
            Key = "medication-dose-taken", NameFr = "prise de médicament", Code = Local("medication-dose-taken", "Scheduled medication dose taken"),
            Category = "therapy", Unit = "1", UnitDisplay = "1", Kind = MeasureValueKind.YesNo,
        },

        // --- Questionnaires. No LOINC term exists for the CAT total score. The MRC grade (1-5) is the mMRC grade
        //     (0-4) plus one: profiles that receive mMRC add the offset. ---
        new()
        {
            Key = "cat-score", NameFr = "score CAT", Code = Local("cat-score", "COPD Assessment Test (CAT) total score"),
            Category = "survey", Unit = "{score}", UnitDisplay = "score", Kind = MeasureValueKind.Score, Range = new(0, 40),
        },
        new()
        {
            Key = "mrc-breathlessness-grade", NameFr = "grade de dyspnée MRC", Code = L("98070-6", "Medical Research Council breathlessness scale grade"),
            Category = "survey", Unit = "{grade}", UnitDisplay = "grade", Kind = MeasureValueKind.Score, Range = new(1, 5),
        },
        new()
        {
            Key = "hf-breathless-at-rest", NameFr = "essoufflement au repos", Code = Local("hf-breathless-at-rest", "Breathless at rest (heart failure symptom)"),
            Category = "survey", Unit = "1", UnitDisplay = "1", Kind = MeasureValueKind.YesNo,
        },
        new()
        {
            Key = "hf-orthopnea", NameFr = "orthopnée", Code = Local("hf-orthopnea", "Breathless lying flat (heart failure symptom)"),
            Category = "survey", Unit = "1", UnitDisplay = "1", Kind = MeasureValueKind.YesNo,
        },
        new()
        {
            Key = "hf-ankle-swelling", NameFr = "œdème des chevilles", Code = Local("hf-ankle-swelling", "Ankle swelling (heart failure symptom)"),
            Category = "survey", Unit = "1", UnitDisplay = "1", Kind = MeasureValueKind.YesNo,
        },

        // --- Indoor environment of the patient's home. LOINC has no terms for home air; FHIR has no category. ---
        new()
        {
            Key = "indoor-co2", NameFr = "CO2 intérieur", Code = Local("indoor-co2", "Indoor air carbon dioxide concentration"),
            Category = "environment", Unit = "[ppm]", UnitDisplay = "ppm", Range = new(0, 100000),
        },
        new()
        {
            Key = "indoor-pm25", NameFr = "PM2,5 intérieures", Code = Local("indoor-pm25", "Indoor air PM2.5 mass concentration"),
            Category = "environment", Unit = "ug/m3", UnitDisplay = "µg/m³", Range = new(0, 10000),
        },
        new()
        {
            Key = "indoor-temperature", NameFr = "température intérieure", Code = Local("indoor-temperature", "Indoor air temperature"),
            Category = "environment", Unit = "Cel", UnitDisplay = "°C", Range = new(-50, 70),
        },
        new()
        {
            Key = "indoor-humidity", NameFr = "humidité intérieure", Code = Local("indoor-humidity", "Indoor air relative humidity"),
            Category = "environment", Unit = "%", UnitDisplay = "%", Range = new(0, 100),
        },

        // --- Outdoor environment of a zone (the environment topic): air-quality stations and weather. No LOINC terms. ---
        new()
        {
            Key = "ambient-pm25", NameFr = "PM2,5 extérieures", Code = Local("ambient-pm25", "Outdoor air PM2.5 mass concentration"),
            Category = "environment", Unit = "ug/m3", UnitDisplay = "µg/m³", Range = new(0, 10000),
        },
        new()
        {
            Key = "ambient-pm10", NameFr = "PM10 extérieures", Code = Local("ambient-pm10", "Outdoor air PM10 mass concentration"),
            Category = "environment", Unit = "ug/m3", UnitDisplay = "µg/m³", Range = new(0, 20000),
        },
        new()
        {
            Key = "ambient-no2", NameFr = "NO2 extérieur", Code = Local("ambient-no2", "Outdoor air nitrogen dioxide mass concentration"),
            Category = "environment", Unit = "ug/m3", UnitDisplay = "µg/m³", Range = new(0, 5000),
        },
        new()
        {
            Key = "ambient-o3", NameFr = "ozone extérieur", Code = Local("ambient-o3", "Outdoor air ozone mass concentration"),
            Category = "environment", Unit = "ug/m3", UnitDisplay = "µg/m³", Range = new(0, 5000),
        },
        new()
        {
            Key = "ambient-temperature", NameFr = "température extérieure", Code = Local("ambient-temperature", "Outdoor air temperature"),
            Category = "environment", Unit = "Cel", UnitDisplay = "°C", Range = new(-90, 60),
        },
        new()
        {
            Key = "ambient-humidity", NameFr = "humidité extérieure", Code = Local("ambient-humidity", "Outdoor air relative humidity"),
            Category = "environment", Unit = "%", UnitDisplay = "%", Range = new(0, 100),
        },
        new()
        {
            // The 0–5 pollen risk index of allergy networks (0 none, 5 very high).
            Key = "pollen-index", NameFr = "indice pollinique", Code = Local("pollen-index", "Pollen allergy risk index (0-5)"),
            Category = "environment", Unit = "1", UnitDisplay = "index", Range = new(0, 5),
        },

        // --- GATT 0x2A36: the cuff pressure while a blood-pressure measurement is under way; not a blood pressure. ---
        new()
        {
            Key = "cuff-pressure", NameFr = "pression du brassard", Code = Local("cuff-pressure", "Blood pressure cuff pressure during measurement"),
            Category = "exam", Unit = "mm[Hg]", UnitDisplay = "mmHg", Range = new(0, 350),
        },
    ];

    private static readonly Dictionary<string, MeasureDefinition> ByKey = Definitions.ToDictionary(d => d.Key, StringComparer.Ordinal);

    private static readonly Dictionary<string, string> PanelOfComponent = BuildPanelIndex();

    public static IReadOnlyList<MeasureDefinition> All => Definitions;

    public static bool TryGet(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MeasureDefinition? definition) =>
        ByKey.TryGetValue(key, out definition);

    public static MeasureDefinition Get(string key) =>
        ByKey.TryGetValue(key, out var definition)
            ? definition
            : throw new KeyNotFoundException($"'{key}' is not a measure of the catalogue");

    /// <summary>The panel a component measure belongs to ("systolic-pressure" → "blood-pressure").</summary>
    public static bool TryGetPanelOf(string componentKey, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? panelKey) =>
        PanelOfComponent.TryGetValue(componentKey, out panelKey);

    public static string CategoryDisplay(string category) => category switch
    {
        "vital-signs" => "Vital Signs",
        "laboratory" => "Laboratory",
        "exam" => "Exam",
        "survey" => "Survey",
        "activity" => "Activity",
        "therapy" => "Therapy",
        "procedure" => "Procedure",
        "social-history" => "Social History",
        "environment" => "Environment",
        _ => category,
    };

    public static string CategorySystemOf(string category) =>
        category == "environment" ? LocalCategorySystem : CategorySystem;

    private static Dictionary<string, string> BuildPanelIndex()
    {
        var index = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var definition in Definitions)
        {
            foreach (var component in definition.Components)
            {
                index.Add(component, definition.Key);
            }
        }

        return index;
    }
}

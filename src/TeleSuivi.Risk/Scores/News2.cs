namespace TeleSuivi.Risk.Scores;

/// <summary>ACVPU: alert, or new confusion / responds to voice / to pain / unresponsive.</summary>
public enum Consciousness
{
    Alert,
    NewConfusion,
    Voice,
    Pain,
    Unresponsive,
}

/// <summary>Which NEWS2 SpO2 scale applies to the patient.</summary>
public enum SpO2Scale
{
    /// <summary>Every patient unless a clinician decides otherwise.</summary>
    Scale1,

    /// <summary>Hypercapnic respiratory failure with a prescribed target of 88–92 % (typically COPD with CO2 retention).</summary>
    Scale2,
}

/// <summary>The clinical response NEWS2 associates with a score.</summary>
public enum News2Risk
{
    /// <summary>Aggregate 0–4 with no single parameter scoring 3.</summary>
    Low,

    /// <summary>Aggregate 0–4 but a single parameter scoring 3 ("red score"): urgent ward-based response.</summary>
    LowMedium,

    /// <summary>Aggregate 5–6: key threshold for urgent response.</summary>
    Medium,

    /// <summary>Aggregate 7 or more: emergency response.</summary>
    High,
}

/// <summary>
/// One set of observations. Every parameter may be missing at home (no device): a missing parameter scores 0 and is
/// listed in <see cref="News2Result.Missing"/> ("partial NEWS2", the only NEWS2 a telemonitoring programme can compute).
/// </summary>
public sealed record News2Input(
    double? RespiratoryRate = null,
    double? SpO2 = null,
    bool? OnOxygen = null,
    double? Systolic = null,
    double? Pulse = null,
    Consciousness? Consciousness = null,
    double? TemperatureC = null,
    SpO2Scale Scale = SpO2Scale.Scale1);

/// <summary>The score of each parameter (null: missing), their sum and the clinical risk band.</summary>
public sealed record News2Result(
    int Total,
    News2Risk Risk,
    int? RespiratoryRate,
    int? SpO2,
    int? AirOrOxygen,
    int? Systolic,
    int? Pulse,
    int? Consciousness,
    int? Temperature)
{
    public IReadOnlyList<string> Missing =>
        new (string Name, int? Score)[]
        {
            ("respiration rate", RespiratoryRate), ("SpO2", SpO2), ("air or oxygen", AirOrOxygen), ("systolic blood pressure", Systolic),
            ("pulse", Pulse), ("consciousness", Consciousness), ("temperature", Temperature),
        }.Where(p => p.Score is null).Select(p => p.Name).ToList();
}

/// <summary>
/// National Early Warning Score 2 (Royal College of Physicians, "National Early Warning Score (NEWS) 2: Standardising
/// the assessment of acute-illness severity in the NHS", updated report of a working party, London: RCP, December
/// 2017), chart 1 "The NEWS scoring system". The table is charted in whole numbers (temperature to 0.1 °C): a value
/// is first rounded half away from zero to that precision (e.g. pulse 90.5 → 91 → 1 point), then banded.
/// </summary>
public static class News2
{
    public static News2Result Score(News2Input input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var rr = input.RespiratoryRate is { } r ? RespirationRate(r) : (int?)null;
        var spo2 = input.SpO2 is { } s ? Saturation(s, input.Scale, input.OnOxygen ?? false) : (int?)null;
        var air = input.OnOxygen is { } o ? (o ? 2 : 0) : (int?)null;
        var sbp = input.Systolic is { } b ? SystolicPressure(b) : (int?)null;
        var pulse = input.Pulse is { } p ? Pulse(p) : (int?)null;
        var acvpu = input.Consciousness is { } c ? Level(c) : (int?)null;
        var temp = input.TemperatureC is { } t ? Temperature(t) : (int?)null;
        int?[] parts = [rr, spo2, air, sbp, pulse, acvpu, temp];
        var total = parts.Sum(x => x ?? 0);
        var red = parts.Any(x => x == 3);
        var risk = total >= 7 ? News2Risk.High : total >= 5 ? News2Risk.Medium : red ? News2Risk.LowMedium : News2Risk.Low;
        return new News2Result(total, risk, rr, spo2, air, sbp, pulse, acvpu, temp);
    }

    private static int Whole(double value) => (int)Math.Round(value, MidpointRounding.AwayFromZero);

    /// <summary>≤8: 3 · 9–11: 1 · 12–20: 0 · 21–24: 2 · ≥25: 3.</summary>
    public static int RespirationRate(double perMinute) => Whole(perMinute) switch
    {
        <= 8 => 3,
        <= 11 => 1,
        <= 20 => 0,
        <= 24 => 2,
        _ => 3,
    };

    /// <summary>
    /// Scale 1: ≤91: 3 · 92–93: 2 · 94–95: 1 · ≥96: 0 (oxygen scores separately).
    /// Scale 2: ≤83: 3 · 84–85: 2 · 86–87: 1 · 88–92, or ≥93 on air: 0 · on oxygen 93–94: 1 · 95–96: 2 · ≥97: 3.
    /// </summary>
    public static int Saturation(double percent, SpO2Scale scale, bool onOxygen)
    {
        var s = Whole(percent);
        if (scale == SpO2Scale.Scale1)
        {
            return s switch
            {
                <= 91 => 3,
                <= 93 => 2,
                <= 95 => 1,
                _ => 0,
            };
        }

        return s switch
        {
            <= 83 => 3,
            <= 85 => 2,
            <= 87 => 1,
            <= 92 => 0,
            _ when !onOxygen => 0,
            <= 94 => 1,
            <= 96 => 2,
            _ => 3,
        };
    }

    /// <summary>≤90: 3 · 91–100: 2 · 101–110: 1 · 111–219: 0 · ≥220: 3.</summary>
    public static int SystolicPressure(double mmHg) => Whole(mmHg) switch
    {
        <= 90 => 3,
        <= 100 => 2,
        <= 110 => 1,
        <= 219 => 0,
        _ => 3,
    };

    /// <summary>≤40: 3 · 41–50: 1 · 51–90: 0 · 91–110: 1 · 111–130: 2 · ≥131: 3.</summary>
    public static int Pulse(double perMinute) => Whole(perMinute) switch
    {
        <= 40 => 3,
        <= 50 => 1,
        <= 90 => 0,
        <= 110 => 1,
        <= 130 => 2,
        _ => 3,
    };

    /// <summary>Alert: 0 · new confusion, voice, pain or unresponsive (CVPU): 3.</summary>
    public static int Level(Consciousness consciousness) => consciousness == Consciousness.Alert ? 0 : 3;

    /// <summary>≤35.0: 3 · 35.1–36.0: 1 · 36.1–38.0: 0 · 38.1–39.0: 1 · ≥39.1: 2.</summary>
    public static int Temperature(double celsius) => (int)Math.Round(celsius * 10, MidpointRounding.AwayFromZero) switch
    {
        <= 350 => 3,
        <= 360 => 1,
        <= 380 => 0,
        <= 390 => 1,
        _ => 2,
    };
}

namespace TeleSuivi.Server.Alerts;

/// <summary>What a monitor concluded from one input: raise (or keep raised) an alert, or end its condition.</summary>
public abstract record AlertSignal(AlertKey Key)
{
    public sealed record Raise(AlertDraft Draft) : AlertSignal(Draft.Key);

    /// <summary>The condition behind <paramref name="Key"/> ended; <paramref name="Why"/> is recorded on the alert.</summary>
    public sealed record Ended(AlertKey Key, LocalizedText Why) : AlertSignal(Key);
}

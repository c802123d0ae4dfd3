namespace TeleSuivi.Server.Hosting;

public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A command-line usage error (unknown option, missing argument).</summary>
    public const int Usage = 2;

    /// <summary>Malformed setting, or a broker or store that cannot be reached at start-up.</summary>
    public const int StartFailed = 3;
}

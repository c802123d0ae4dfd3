namespace TeleSuivi.Server;

/// <summary>
/// A setting the operator got wrong, or a service the platform cannot reach at start-up.
/// Its message is printed as is, without a stack trace, and the process exits with a non-zero code.
/// </summary>
public sealed class ConfigurationException : Exception
{
    public ConfigurationException(string message) : base(message)
    {
    }

    public ConfigurationException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public ConfigurationException()
    {
    }
}

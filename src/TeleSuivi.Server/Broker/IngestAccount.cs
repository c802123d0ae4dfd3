using Microsoft.Extensions.Options;

namespace TeleSuivi.Server.Broker;

/// <summary>
/// The account the ingest workers log in with. On the embedded broker: <see cref="BrokerAccounts.EmbeddedIngestUserName"/>
/// with a random secret made by this process, never written anywhere. On an external broker: the <c>user:password@</c>
/// of <c>Broker:Url</c>, else <c>Broker:UserName</c> and <c>Broker:Password</c>.
/// </summary>
public sealed class IngestAccount
{
    public IngestAccount(IOptions<BrokerOptions> options)
    {
        var settings = options.Value;
        var address = settings.ResolveAddress();
        if (address.IsEmbedded)
        {
            UserName = BrokerAccounts.EmbeddedIngestUserName;
            Password = BrokerSecrets.NewSecret();
        }
        else if (address.UserName is not null)
        {
            (UserName, Password) = (address.UserName, address.Password);
        }
        else
        {
            (UserName, Password) = (settings.UserName, settings.Password);
        }
    }

    public string? UserName { get; }

    public string? Password { get; }
}

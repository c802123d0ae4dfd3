using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Broker;

/// <summary>A freshly issued account. The secret exists only here: the registry keeps its hash.</summary>
public sealed record IssuedCredential(string UserName, BrokerAccountKind Kind, string Subject, string Secret);

/// <summary>What was asked of <see cref="BrokerCredentialIssuer"/> and cannot be done, each problem on its own line.</summary>
public sealed class BrokerCredentialException(IReadOnlyList<string> problems) : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>Issues the broker accounts of devices and environment stations into the registry.</summary>
public sealed class BrokerCredentialIssuer(DeviceRegistry registry, TimeProvider time)
{
    /// <summary>
    /// Issues an account to each registered device of <paramref name="deviceIds"/>. A device that has one already is
    /// refused unless <paramref name="rotate"/>: a new secret makes the old one stop working.
    /// </summary>
    public Task<IReadOnlyList<IssuedCredential>> IssueDevicesAsync(IEnumerable<string> deviceIds, bool rotate, CancellationToken cancellationToken, IProgress<int>? progress = null) =>
        IssueAsync(deviceIds.Select(id => (id, BrokerAccountKind.Device)), rotate, progress, cancellationToken);

    /// <summary>Issues the account of the environment station of each zone (username <c>station/{zoneId}</c>).</summary>
    public Task<IReadOnlyList<IssuedCredential>> IssueStationsAsync(IEnumerable<string> zoneIds, bool rotate, CancellationToken cancellationToken, IProgress<int>? progress = null) =>
        IssueAsync(zoneIds.Select(zone => (zone, BrokerAccountKind.Station)), rotate, progress, cancellationToken);

    /// <summary>The registered devices that have no account yet: a provisioning batch.</summary>
    public async Task<IReadOnlyList<string>> DevicesWithoutCredentialsAsync(CancellationToken cancellationToken)
    {
        var issued = (await registry.CredentialsAsync(cancellationToken)).Select(c => c.UserName).ToHashSet(StringComparer.Ordinal);
        return registry.Devices.Select(d => d.Id).Where(id => !issued.Contains(id)).Order(StringComparer.Ordinal).ToList();
    }

    private async Task<IReadOnlyList<IssuedCredential>> IssueAsync(IEnumerable<(string Subject, BrokerAccountKind Kind)> requests, bool rotate, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var existing = (await registry.CredentialsAsync(cancellationToken)).ToDictionary(c => c.UserName, StringComparer.Ordinal);
        var problems = new List<string>();
        var wanted = new List<(string UserName, BrokerAccountKind Kind, string Subject)>();
        foreach (var (subject, kind) in requests.Distinct())
        {
            var what = kind == BrokerAccountKind.Device ? "device id" : "zone id";
            if (BrokerAccounts.Problem(subject, what) is { } problem)
            {
                problems.Add(problem);
                continue;
            }

            if (kind == BrokerAccountKind.Device && registry.FindDevice(subject) is null)
            {
                problems.Add(registry.CanonicalDeviceId(subject) is { } canonical
                    ? $"'{subject}' is another name of device '{canonical}': issue the account to '{canonical}' (it may publish under both)"
                    : $"device '{subject}' is not registered: import it first (telesuivi import)");
                continue;
            }

            var userName = kind == BrokerAccountKind.Device ? subject : BrokerAccounts.Station(subject);
            if (existing.ContainsKey(userName) && !rotate)
            {
                problems.Add($"'{userName}' already has a broker account: --rotate replaces its secret (the old one stops working at once)");
                continue;
            }

            wanted.Add((userName, kind, subject));
        }

        if (problems.Count > 0)
        {
            throw new BrokerCredentialException(problems);
        }

        var now = time.GetUtcNow();
        var issued = new List<IssuedCredential>(wanted.Count);
        var hashed = new List<BrokerCredential>(wanted.Count);
        foreach (var (userName, kind, subject) in wanted)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var secret = BrokerSecrets.NewSecret();
            issued.Add(new IssuedCredential(userName, kind, subject, secret));
            hashed.Add(new BrokerCredential(userName, kind, subject, BrokerSecrets.Hash(secret), now));
            progress?.Report(issued.Count);
        }

        // One transaction: a batch is issued whole or not at all, so its CSV never lists a secret that does not work.
        await registry.SaveCredentialsAsync(hashed, cancellationToken);
        return issued;
    }
}

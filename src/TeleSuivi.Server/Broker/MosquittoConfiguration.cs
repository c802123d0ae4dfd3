using System.Globalization;
using System.Text;
using TeleSuivi.Server.Registry;

namespace TeleSuivi.Server.Broker;

/// <summary>
/// mosquitto's <c>password_file</c> and <c>acl_file</c> made from the registry's broker accounts, enforcing on
/// mosquitto 2.0 what the embedded broker enforces. The registry keeps each secret as a mosquitto <c>$7$</c> hash,
/// so the password file needs no secret in clear.
/// </summary>
public sealed class MosquittoConfiguration
{
    public const string PasswordFileName = "mosquitto-passwords";
    public const string AclFileName = "mosquitto-acl";

    private MosquittoConfiguration(string passwords, string acl, IReadOnlyList<string> warnings)
    {
        Passwords = passwords;
        Acl = acl;
        Warnings = warnings;
    }

    /// <summary>The password file: the platform's own lines first (as given), then one line per broker account.</summary>
    public string Passwords { get; }

    public string Acl { get; }

    /// <summary>What the files cannot express (a device's other name that is not a topic level), for the operator.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <param name="credentials">The registry's broker accounts.</param>
    /// <param name="devices">The registered devices, for their other names (serial numbers) they may publish under.</param>
    /// <param name="platformPasswords">mosquitto_passwd lines of the platform's own users (ingest, health check), or empty.</param>
    /// <param name="ingestUser">The ingest workers' username: it reads every reading.</param>
    /// <param name="healthCheckUser">The health check's username: it reads the broker's uptime only; null for none.</param>
    public static MosquittoConfiguration Build(
        IReadOnlyList<BrokerCredential> credentials,
        IReadOnlyCollection<RegisteredDevice> devices,
        string platformPasswords,
        string ingestUser,
        string? healthCheckUser)
    {
        var passwords = new StringBuilder();
        var users = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in platformPasswords.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var user = line.Split(':', 2)[0];
            if (line.IndexOf(':', StringComparison.Ordinal) < 1 || !BrokerSecrets.IsWellFormed(line[(user.Length + 1)..]))
            {
                throw new FormatException($"the platform password line of '{user}' is not 'user:$7$...' (make it with mosquitto_passwd)");
            }

            if (!users.Add(user))
            {
                throw new FormatException($"user '{user}' appears twice in the platform password file");
            }

            passwords.Append(line).Append('\n');
        }

        foreach (var credential in credentials)
        {
            if (!users.Add(credential.UserName))
            {
                throw new FormatException($"'{credential.UserName}' is both a platform user and a broker account of the registry: rename the platform user");
            }

            passwords.Append(credential.UserName).Append(':').Append(credential.SecretHash).Append('\n');
        }

        var warnings = new List<string>();
        var acl = new StringBuilder();
        var stations = credentials.Where(c => c.Kind == BrokerAccountKind.Station).ToList();
        var deviceAccounts = credentials.Where(c => c.Kind == BrokerAccountKind.Device).Select(c => c.UserName).ToHashSet(StringComparer.Ordinal);
        acl.Append(CultureInfo.InvariantCulture, $$"""
            # TeleSuivi broker ACL (mosquitto 2.0 acl_file), written by `telesuivi broker mosquitto-config` from the
            # registry: {{deviceAccounts.Count}} device account(s), {{stations.Count}} station account(s). Do not edit: regenerate
            # it after issuing or revoking accounts, then reload mosquitto (SIGHUP). See README, "Device authentication".
            # Nothing is allowed unless a line below allows it.

            # --- Devices: username = device id -----------------------------------------------------------------------
            # %u is the connecting client's username: a device may publish to telesuivi/v1/devices/{any manufacturer}/{its id}
            # and telesuivi/v1/devices/gatt/{its id}/{uuid16}, nothing else, and reads nothing. mosquitto applies no
            # pattern to a username or client id holding '/', '+' or '#' (stations below, and devices must not use them).
            pattern write telesuivi/v1/devices/+/%u
            pattern write telesuivi/v1/devices/gatt/%u/+

            # --- The platform's ingest workers: they subscribe to $share/{group}/telesuivi/v1/devices/# and .../environment/#
            user {{ingestUser}}
            topic read telesuivi/v1/#

            """);
        if (healthCheckUser is not null)
        {
            acl.Append(CultureInfo.InvariantCulture, $$"""

                # --- Health checks: the broker's uptime only
                user {{healthCheckUser}}
                topic read $SYS/broker/uptime

                """);
        }

        if (stations.Count > 0)
        {
            acl.Append("\n# --- Environment stations: username station/{zoneId}, its zone's topic only\n");
            foreach (var station in stations)
            {
                acl.Append(CultureInfo.InvariantCulture, $"user {station.UserName}\ntopic write telesuivi/v1/environment/{station.Subject}\n");
            }
        }

        var aliasBlocks = new StringBuilder();
        foreach (var device in devices.Where(d => deviceAccounts.Contains(d.Id)).OrderBy(d => d.Id, StringComparer.Ordinal))
        {
            var names = new List<string>();
            foreach (var alias in device.Aliases.Where(a => !string.Equals(a, device.Id, StringComparison.Ordinal)))
            {
                if (alias.Length == 0 || alias.IndexOfAny(['/', '+', '#']) >= 0 || alias.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                {
                    warnings.Add($"device '{device.Id}' cannot publish under its other name '{alias}' on mosquitto: it is not one topic level");
                    continue;
                }

                names.Add(alias);
            }

            if (names.Count > 0)
            {
                aliasBlocks.Append(CultureInfo.InvariantCulture, $"user {device.Id}\n");
                foreach (var name in names)
                {
                    aliasBlocks.Append(CultureInfo.InvariantCulture, $"topic write telesuivi/v1/devices/+/{name}\ntopic write telesuivi/v1/devices/gatt/{name}/+\n");
                }
            }
        }

        if (aliasBlocks.Length > 0)
        {
            acl.Append("\n# --- Devices that also publish under another registered name (serial number)\n").Append(aliasBlocks);
        }

        return new MosquittoConfiguration(passwords.ToString(), acl.ToString(), warnings);
    }

    /// <summary>
    /// Writes both files into <paramref name="directory"/>, each through a temporary file renamed over the old one:
    /// a mosquitto reloading at that moment reads the old file or the new one, never half of one.
    /// </summary>
    public void WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        Replace(Path.Combine(directory, PasswordFileName), Passwords);
        Replace(Path.Combine(directory, AclFileName), Acl);
    }

    private static void Replace(string path, string content)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        if (!OperatingSystem.IsWindows())
        {
            // Hashes, not secrets, yet nobody but the broker's owner needs to read them.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

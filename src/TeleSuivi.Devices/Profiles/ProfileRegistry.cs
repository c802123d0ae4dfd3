using System.Diagnostics.CodeAnalysis;

namespace TeleSuivi.Devices.Profiles;

/// <summary>
/// The manufacturer decoders loaded from <c>ingest/{manufacturer}/profile.json</c>. Adding a JSON or CSV
/// manufacturer is adding a folder: no code, no registration.
/// </summary>
public sealed class ProfileRegistry
{
    public const string ProfileFileName = "profile.json";

    private readonly Dictionary<string, IPayloadDecoder> decoders;

    private ProfileRegistry(Dictionary<string, IPayloadDecoder> decoders) => this.decoders = decoders;

    /// <summary>The manufacturer names, i.e. the folder names and MQTT topic segments, sorted.</summary>
    public IReadOnlyList<string> Manufacturers => [.. decoders.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Loads and checks every profile under <paramref name="ingestDirectory"/>. Folders without profile.json are
    /// skipped (they may hold documentation); any invalid profile fails the whole load with every reason listed,
    /// so a bad profile is found at startup rather than by the first payload.
    /// </summary>
    public static ProfileRegistry Load(string ingestDirectory)
    {
        if (!Directory.Exists(ingestDirectory))
        {
            throw new ProfileException($"the ingest directory {ingestDirectory} does not exist");
        }

        var decoders = new Dictionary<string, IPayloadDecoder>(StringComparer.Ordinal);
        var errors = new List<string>();
        foreach (var folder in Directory.EnumerateDirectories(ingestDirectory).Order(StringComparer.Ordinal))
        {
            var file = Path.Combine(folder, ProfileFileName);
            if (!File.Exists(file))
            {
                continue;
            }

            var manufacturer = Path.GetFileName(folder);
            try
            {
                decoders.Add(manufacturer, Compile(manufacturer, File.ReadAllBytes(file)));
            }
            catch (ProfileException ex)
            {
                errors.Add($"{file}: {ex.Message}");
            }
        }

        return errors.Count == 0
            ? new ProfileRegistry(decoders)
            : throw new ProfileException($"{errors.Count} invalid profile(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
    }

    /// <summary>Compiles one profile from its JSON text; the name must be the folder name it would live in.</summary>
    public static IPayloadDecoder Compile(string manufacturer, ReadOnlySpan<byte> profileJson)
    {
        if (manufacturer.Length == 0 || !manufacturer.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new ProfileException($"'{manufacturer}' is not a manufacturer name: lowercase letters, digits and '-' only (it is an MQTT topic segment)");
        }

        return new ProfileDecoder(ProfileCompiler.Compile(manufacturer, profileJson));
    }

    public bool TryGet(string manufacturer, [NotNullWhen(true)] out IPayloadDecoder? decoder) =>
        decoders.TryGetValue(manufacturer, out decoder);
}

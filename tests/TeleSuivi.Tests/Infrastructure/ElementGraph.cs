using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>
/// Every field of an object graph (a FHIR resource and whatever its elements hold, Firely's private caches included),
/// each with what it points at: a value type by its value, an object by its identity. Two snapshots differ exactly
/// where something wrote into the graph, e.g. a getter that creates a list or a cache on first read.
/// </summary>
public static class ElementGraph
{
    public static IReadOnlyDictionary<string, string> Snapshot(object root)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        Walk(root, string.Empty, fields, new HashSet<object>(ReferenceEqualityComparer.Instance));
        return fields;
    }

    /// <summary>The paths whose field was added, removed or changed between two snapshots of one graph.</summary>
    public static IReadOnlyList<string> Changes(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after) =>
        [.. after.Where(field => !before.TryGetValue(field.Key, out var was) || was != field.Value).Select(field => field.Key)
            .Concat(before.Keys.Where(path => !after.ContainsKey(path))).Order(StringComparer.Ordinal)];

    private static void Walk(object node, string path, Dictionary<string, string> fields, HashSet<object> seen)
    {
        if (!seen.Add(node))
        {
            return;
        }

        if (node is IList list and not Array)
        {
            for (var i = 0; i < list.Count; i++)
            {
                fields[$"{path}[{i}]"] = Describe(list[i]);
                if (IsGraphNode(list[i]))
                {
                    Walk(list[i]!, $"{path}[{i}]", fields, seen);
                }
            }

            return;
        }

        for (var type = node.GetType(); type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                var value = field.GetValue(node);
                var fieldPath = $"{path}/{type.Name}.{field.Name}";
                fields[fieldPath] = Describe(value);
                if (IsGraphNode(value))
                {
                    Walk(value!, fieldPath, fields, seen);
                }
            }
        }
    }

    private static bool IsGraphNode(object? value) =>
        value is not null and not string and not Type and not Delegate and not Array && !value.GetType().IsValueType;

    private static string Describe(object? value) => value switch
    {
        null => "null",
        string text => $"string #{RuntimeHelpers.GetHashCode(text)}",
        _ when value.GetType().IsValueType => $"{value.GetType().Name} {value}",
        _ => $"{value.GetType().Name} #{RuntimeHelpers.GetHashCode(value)}",
    };
}

namespace TeleSuivi.Server.Risk;

/// <summary>
/// When each of the scorer's patients (or zones) is next due, earliest first: its loop asks for the next wake-up and
/// takes what is due without looking at every tracked patient (100,000 on one node) each time round. A changed due
/// time adds an entry and leaves the old one behind, dropped when it reaches the front (it no longer matches), so a
/// change costs O(log n); the queue is rebuilt when such leftovers outnumber the live entries.
/// </summary>
internal sealed class DueSchedule<T>
    where T : class
{
    private const int RebuildAbove = 1024;

    private readonly Dictionary<T, DateTimeOffset> due = new(ReferenceEqualityComparer.Instance);
    private readonly PriorityQueue<T, DateTimeOffset> queue = new();

    /// <summary>Items with a due time.</summary>
    public int Count => due.Count;

    /// <summary>Entries in the queue, leftovers included (for tests: they must not grow without bound).</summary>
    internal int QueuedEntries => queue.Count;

    public DateTimeOffset? Of(T item) => due.TryGetValue(item, out var at) ? at : null;

    /// <summary>Sets (or with null clears) when <paramref name="item"/> is due.</summary>
    public void Set(T item, DateTimeOffset? at)
    {
        if (at is not { } time)
        {
            due.Remove(item);
            return;
        }

        if (due.TryGetValue(item, out var current) && current == time)
        {
            return;
        }

        due[item] = time;
        queue.Enqueue(item, time);
        if (queue.Count > RebuildAbove && queue.Count > 2 * due.Count)
        {
            queue.Clear();
            queue.EnqueueRange(due.Select(pair => (pair.Key, pair.Value)));
        }
    }

    /// <summary>Sets when <paramref name="item"/> is due unless it already is.</summary>
    public void SetIfNone(T item, DateTimeOffset at)
    {
        if (!due.ContainsKey(item))
        {
            Set(item, at);
        }
    }

    /// <summary>The earliest due time, or null when nothing is due.</summary>
    public DateTimeOffset? Earliest()
    {
        DropLeftovers();
        return queue.TryPeek(out _, out var at) ? at : null;
    }

    /// <summary>Removes and returns, earliest first, the items due at or before <paramref name="now"/>; each is then due no more.</summary>
    public List<T> TakeDue(DateTimeOffset now)
    {
        var taken = new List<T>();
        DropLeftovers();
        while (queue.TryPeek(out var item, out var at) && at <= now)
        {
            queue.Dequeue();
            due.Remove(item);
            taken.Add(item);
            DropLeftovers();
        }

        return taken;
    }

    private void DropLeftovers()
    {
        while (queue.TryPeek(out var item, out var at) && !(due.TryGetValue(item, out var current) && current == at))
        {
            queue.Dequeue();
        }
    }
}

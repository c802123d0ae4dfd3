using TeleSuivi.Server.Alerts;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Tests.Alerts;

/// <summary>
/// What the alert workflow promises on each workflow database (SQLite for one node, PostgreSQL for several): atomic
/// claims, who may do what, and everything recorded. A subclass gives each test a fresh, empty real database.
/// </summary>
public abstract class AlertWorkflowContract
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <param name="wrap">Puts something between the store and the fresh database (a commit that fails after it happened).</param>
    protected abstract Task<AlertTestBed> NewBedAsync(Func<WorkflowDatabase, WorkflowDatabase>? wrap = null);

    [Fact]
    public async Task ClaimAsync_TwentyNursesAtOnce_ExactlyOneWins()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();

        var results = await Task.WhenAll(Enumerable.Range(1, 20).Select(i => Task.Run(() => bed.Workflow.ClaimAsync(alert.Id, $"nurse-{i}", Ct), Ct)));

        var winner = Assert.Single(results, r => r.Succeeded);
        Assert.All(results.Where(r => !r.Succeeded), r =>
        {
            Assert.Equal(WorkflowErrorKind.Conflict, r.Error!.Kind);
            Assert.Contains($"claimed by {winner.Alert!.ClaimedBy}", r.Error.Message, StringComparison.Ordinal);
        });
        var claims = (await bed.Store.ActionsAsync(alert.Id, null, null, null, Ct)).Where(a => a.Action == AlertActions.Claimed).ToList();
        Assert.Equal(winner.Alert!.ClaimedBy, Assert.Single(claims).Actor);
    }

    [Fact]
    public async Task AddNoteAsync_TwoHundredAtOnce_EachRecordedPushedAndAnsweredWithItsOwnVersion()
    {
        // Concurrent steps share group commits: none may be lost, answered before its commit, or merged with another.
        await using var bed = await NewBedAsync();
        var alerts = new List<Alert>();
        for (var i = 0; i < 4; i++)
        {
            alerts.Add(await bed.RaiseAsync(AlertTestBed.Draft(patient: $"p{i}")));
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => bed.Workflow.AddNoteAsync(alerts[i % alerts.Count].Id, $"nurse-{i % 7}", $"note {i}", Ct), Ct)));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Error?.Message));
        Assert.Equal(200, results.Select(r => r.Alert!.Version).Distinct().Count());
        var notes = (await bed.Store.ActionsAsync(null, null, null, null, Ct)).Where(a => a.Action == AlertActions.Note).ToList();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"note {i}").Order(StringComparer.Ordinal), notes.Select(n => n.Detail!).Order(StringComparer.Ordinal));
        Assert.Equal(results.Select(r => r.Alert!.Version).Order(), bed.Hub.Received.Select(v => v.Version).Order());
        foreach (var alert in alerts)
        {
            var stored = await bed.Store.GetAsync(alert.Id, Ct);
            Assert.Equal(results.Where(r => r.Alert!.Id == alert.Id).Max(r => r.Alert!.Version), stored!.Version);
        }
    }

    [Fact]
    public async Task ErasePatientAsync_RemovesTheirAlertsActionsAndThresholdsOnly()
    {
        await using var bed = await NewBedAsync();
        var erased = await bed.RaiseAsync(AlertTestBed.Draft(patient: "erased-1"));
        var kept = await bed.RaiseAsync(AlertTestBed.Draft(patient: "kept-1"));
        foreach (var alert in new[] { erased, kept })
        {
            Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "nurse-1", Ct)).Succeeded);
            Assert.True((await bed.Workflow.AddNoteAsync(alert.Id, "nurse-1", "called, breathless", Ct)).Succeeded);
            await bed.Store.SetThresholdAsync(new PatientThreshold(alert.PatientId, "spo2", new VitalLimits(80, 84, null, null), "dr", bed.Clock.GetUtcNow(), "usual 86 %"), Ct);
        }

        Assert.Equal(1, await bed.Store.ErasePatientAsync("erased-1", Ct));

        Assert.Null(await bed.Store.GetAsync(erased.Id, Ct));
        Assert.Empty(await bed.Store.ActionsAsync(null, "erased-1", null, null, Ct));
        Assert.Empty(await bed.Store.ThresholdsAsync("erased-1", Ct));
        Assert.NotNull(await bed.Store.GetAsync(kept.Id, Ct));
        Assert.NotEmpty(await bed.Store.ActionsAsync(null, "kept-1", null, null, Ct));
        Assert.Single(await bed.Store.ThresholdsAsync("kept-1", Ct));
    }

    [Fact]
    public async Task ClaimAsync_SameNurseTwice_IsNotAnError()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();

        Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct)).Succeeded);
        Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct)).Succeeded);
    }

    [Fact]
    public async Task ResolveAsync_ByNurseWhoDidNotClaim_IsRefused()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);

        var result = await bed.Workflow.ResolveAsync(alert.Id, "bob", AlertOutcomes.FalseAlarm, null, Ct);

        Assert.Equal(WorkflowErrorKind.Conflict, result.Error!.Kind);
        Assert.Contains("claimed by alice", result.Error.Message, StringComparison.Ordinal);
        Assert.False((await bed.Store.GetAsync(alert.Id, Ct))!.IsClosed);
    }

    [Fact]
    public async Task ResolveAsync_UnknownOutcome_IsInvalid()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);

        var result = await bed.Workflow.ResolveAsync(alert.Id, "alice", "went-fishing", null, Ct);

        Assert.Equal(WorkflowErrorKind.Invalid, result.Error!.Kind);
        Assert.Contains(AlertOutcomes.ConfirmedExacerbation, result.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FullWorkflow_EveryStep_IsRecordedWithWhoAndWhenAndPushedToBoards()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();

        Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct)).Succeeded);
        bed.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True((await bed.Workflow.AcknowledgeAsync(alert.Id, "alice", Ct)).Succeeded);
        Assert.True((await bed.Workflow.AddNoteAsync(alert.Id, "bob", "Patient known to desaturate at night", Ct)).Succeeded);
        Assert.True((await bed.Workflow.LogCallAsync(alert.Id, "alice", "breathless since yesterday", true, Ct)).Succeeded);
        Assert.True((await bed.Workflow.EscalateAsync(alert.Id, "alice", null, "needs a review today", Ct)).Succeeded);
        bed.Clock.Advance(TimeSpan.FromMinutes(30));
        var resolved = await bed.Workflow.ResolveAsync(alert.Id, "alice", AlertOutcomes.HomeVisit, "oxygen increased", Ct);

        Assert.True(resolved.Succeeded);
        Assert.Equal(AlertStatuses.Resolved, resolved.Alert!.Status);
        Assert.Equal(AlertOutcomes.HomeVisit, resolved.Alert.Outcome);
        Assert.Equal("alice", resolved.Alert.ResolvedBy);
        Assert.Equal(bed.Clock.Now, resolved.Alert.ClosedAt);
        Assert.Equal(bed.Settings.DefaultPhysician, resolved.Alert.EscalatedTo);
        var actions = await bed.Store.ActionsAsync(alert.Id, null, null, null, Ct);
        Assert.Equal(
            [("opened", "system"), ("claimed", "alice"), ("acknowledged", "alice"), ("note", "bob"), ("call", "alice"), ("escalated", "alice"), ("resolved", "alice")],
            actions.Select(a => (a.Action, a.Actor)));
        Assert.Equal("reached: breathless since yesterday", actions.Single(a => a.Action == "call").Detail);
        Assert.Equal(bed.Clock.Now, actions[^1].At);
        var versions = bed.Hub.Received.Select(v => v.Version).ToList();
        Assert.Equal(6, versions.Count);
        Assert.Equal(versions.Order(), versions);
        Assert.Equal("closed", bed.Hub.Received[^1].State);
    }

    [Fact]
    public async Task SnoozeAsync_ReleasesTheClaimAndHidesUntilThen()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);

        Assert.Equal(WorkflowErrorKind.Invalid, (await bed.Workflow.SnoozeAsync(alert.Id, "alice", bed.Clock.Now.AddHours(1), " ", Ct)).Error!.Kind);
        Assert.Equal(WorkflowErrorKind.Invalid, (await bed.Workflow.SnoozeAsync(alert.Id, "alice", bed.Clock.Now.AddDays(8), "call back", Ct)).Error!.Kind);
        var snoozed = await bed.Workflow.SnoozeAsync(alert.Id, "alice", bed.Clock.Now.AddHours(2), "patient at the pharmacy, call back", Ct);

        Assert.Null(snoozed.Alert!.ClaimedBy);
        Assert.True(snoozed.Alert.IsSnoozed(bed.Clock.Now));
        Assert.Equal("snoozed", bed.Hub.Received[^1].State);
        bed.Clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal("new", bed.Board.View(snoozed.Alert, null, 0, bed.Clock.Now).State);
    }

    // 4294967296 minutes came from the HTTP fuzz test (seed 13), when the endpoint added them to the clock itself: a 500.
    [Theory]
    [InlineData(4294967296d)]
    [InlineData(1e300)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(0d)]
    [InlineData(-30d)]
    [InlineData(7 * 24 * 60 + 1d)]
    public async Task SnoozeForAsync_MinutesOutOfRange_RefusedWithTheLimit(double minutes)
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);

        var refused = await bed.Workflow.SnoozeForAsync(alert.Id, "alice", minutes, "call back", Ct);

        Assert.Equal(WorkflowErrorKind.Invalid, refused.Error!.Kind);
        Assert.Equal("minutes must be more than 0 and at most 10080 (7 days)", refused.Error.Message);
    }

    [Fact]
    public async Task SnoozeForAsync_ThirtyMinutes_SnoozedUntilThen()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);

        var snoozed = await bed.Workflow.SnoozeForAsync(alert.Id, "alice", 30, "patient at the pharmacy", Ct);

        Assert.Equal(bed.Clock.Now.AddMinutes(30), snoozed.Alert!.SnoozedUntil);
    }

    [Fact]
    public async Task EscalateOverdueAsync_CriticalUnacknowledgedAfterTimer_EscalatesAsSystem()
    {
        await using var bed = await NewBedAsync();
        var critical = await bed.RaiseAsync();
        var warning = await bed.RaiseAsync(AlertTestBed.Draft(patient: "p2", severity: AlertSeverity.Warning));
        var acknowledged = await bed.RaiseAsync(AlertTestBed.Draft(patient: "p3"));
        await bed.Workflow.ClaimAsync(acknowledged.Id, "alice", Ct);
        await bed.Workflow.AcknowledgeAsync(acknowledged.Id, "alice", Ct);

        bed.Clock.Advance(bed.Settings.EscalateCriticalAfter - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await bed.Workflow.EscalateOverdueAsync(Ct));
        bed.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await bed.Workflow.EscalateOverdueAsync(Ct));
        Assert.Equal(0, await bed.Workflow.EscalateOverdueAsync(Ct));

        var escalated = (await bed.Store.GetAsync(critical.Id, Ct))!;
        Assert.Equal(AlertStatuses.Escalated, escalated.Status);
        Assert.Equal(bed.Settings.DefaultPhysician, escalated.EscalatedTo);
        Assert.Equal("system", (await bed.Store.ActionsAsync(critical.Id, null, null, null, Ct))[^1].Actor);
        Assert.Null((await bed.Store.GetAsync(warning.Id, Ct))!.EscalatedAt);
        Assert.Null((await bed.Store.GetAsync(acknowledged.Id, Ct))!.EscalatedAt);
    }

    [Fact]
    public async Task EscalateOverdueAsync_WarningTurnedCriticalFiftyMinutesLater_CountsFromWhenItBecameCritical()
    {
        await using var bed = await NewBedAsync();
        var warning = await bed.RaiseAsync(AlertTestBed.Draft(severity: AlertSeverity.Warning));
        Assert.Null(warning.CriticalSince);
        bed.Clock.Advance(TimeSpan.FromMinutes(50));

        var critical = await bed.RaiseAsync(AlertTestBed.Draft(severity: AlertSeverity.Critical));
        Assert.Equal(warning.Id, critical.Id);
        Assert.Equal(bed.Clock.Now, critical.CriticalSince);
        Assert.Equal(0, await bed.Workflow.EscalateOverdueAsync(Ct));

        // A later raise (new evidence, still critical) does not restart the timer.
        bed.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(critical.CriticalSince, (await bed.RaiseAsync(AlertTestBed.Draft(severity: AlertSeverity.Critical))).CriticalSince);
        bed.Clock.Advance(bed.Settings.EscalateCriticalAfter - TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await bed.Workflow.EscalateOverdueAsync(Ct));
        bed.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await bed.Workflow.EscalateOverdueAsync(Ct));
        Assert.Equal(AlertStatuses.Escalated, (await bed.Store.GetAsync(warning.Id, Ct))!.Status);
    }

    [Fact]
    public async Task InitializeAsync_DatabaseFromBeforeCriticalSinceAndStepIds_GainsBothAndEscalatesFromOpening()
    {
        // A database an older version wrote: no critical_since, no step_id. Its critical alerts count from their
        // opening (the old rule: nothing better is known), and a new alert from when it became critical.
        var dropped = (WorkflowDatabase?)null;
        await using var bed = await NewBedAsync(database => dropped = database);
        var old = await bed.RaiseAsync();
        await RunAsync(dropped!, "DROP INDEX alert_action_step", "ALTER TABLE alert_action DROP COLUMN step_id", "ALTER TABLE alert DROP COLUMN critical_since");

        using var upgraded = new AlertStore(dropped!);
        await upgraded.InitializeAsync(Ct);
        await upgraded.InitializeAsync(Ct);

        Assert.Equal(old.OpenedAt, (await upgraded.GetAsync(old.Id, Ct))!.CriticalSince);
        Assert.Equal([old.Id], await upgraded.DueForEscalationAsync(bed.Clock.Now + bed.Settings.EscalateCriticalAfter, bed.Clock.Now, Ct));
        Assert.True((await bed.Workflow.AddNoteAsync(old.Id, "alice", "after the upgrade", Ct)).Succeeded);

        // A critical alert an older node raised after the upgrade (rolling upgrade: it does not set critical_since).
        await RunAsync(dropped!, $"UPDATE alert SET critical_since = NULL WHERE id = {old.Id}");
        Assert.Equal([old.Id], await upgraded.DueForEscalationAsync(bed.Clock.Now + bed.Settings.EscalateCriticalAfter, bed.Clock.Now, Ct));
    }

    private static async Task RunAsync(WorkflowDatabase database, params string[] statements)
    {
        await using var connection = await database.OpenAsync(Ct);
        foreach (var statement in statements)
        {
            await using var command = WorkflowDatabase.Command(connection, null, statement);
            await command.ExecuteNonQueryAsync(Ct);
        }
    }

    [Fact]
    public async Task AddNoteAsync_CommitHappenedButReportedFailed_RecordsEachNoteOnce()
    {
        CommitReportedFailedDatabase? failing = null;
        await using var bed = await NewBedAsync(database => failing = new CommitReportedFailedDatabase(database));
        var alert = await bed.RaiseAsync();

        failing!.FailingCommits = 1;
        var alone = await bed.Workflow.AddNoteAsync(alert.Id, "alice", "note alone", Ct);
        Assert.True(alone.Succeeded, alone.Error?.Message);

        // Concurrent notes share group commits; the first commit after this reports a failure, retried step by step.
        failing.FailingCommits = 1;
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Task.Run(() => bed.Workflow.AddNoteAsync(alert.Id, $"nurse-{i % 3}", $"note {i}", Ct), Ct)));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Error?.Message));
        Assert.True(failing.FailingCommits < 0, "no commit was made to fail");
        var notes = (await bed.Store.ActionsAsync(alert.Id, null, null, null, Ct)).Where(a => a.Action == AlertActions.Note).Select(a => a.Detail!).ToList();
        string[] expected = ["note alone", .. Enumerable.Range(0, 20).Select(i => $"note {i}")];
        Assert.Equal(expected.Order(StringComparer.Ordinal), notes.Order(StringComparer.Ordinal));
    }

    /// <summary>The risk scorer's daily read of recorded onsets: one query for every patient, only the outcomes asked for.</summary>
    [Fact]
    public async Task ListAsync_ByOutcomes_OnlyAlertsResolvedSoOfEveryPatient()
    {
        await using var bed = await NewBedAsync();
        foreach (var (patient, outcome) in new[] { ("p1", AlertOutcomes.ConfirmedExacerbation), ("p2", AlertOutcomes.FalseAlarm), ("p3", AlertOutcomes.Hospitalised), ("p3", AlertOutcomes.ManagedAtHome) })
        {
            var alert = await bed.RaiseAsync(AlertTestBed.Draft(patient: patient, kind: AlertKinds.Risk, subject: outcome));
            Assert.True((await bed.Workflow.ClaimAsync(alert.Id, "nurse-1", Ct)).Succeeded);
            Assert.True((await bed.Workflow.ResolveAsync(alert.Id, "nurse-1", outcome, null, Ct)).Succeeded);
        }

        await bed.RaiseAsync(AlertTestBed.Draft(patient: "p4"));

        var onsets = await bed.Store.ListAsync(new AlertQuery { IncludeClosed = true, Outcomes = [AlertOutcomes.ConfirmedExacerbation, AlertOutcomes.Hospitalised], Limit = int.MaxValue }, Ct);

        Assert.Equal(
            [("p1", AlertOutcomes.ConfirmedExacerbation), ("p3", AlertOutcomes.Hospitalised)],
            onsets.Select(a => (a.PatientId, a.Outcome!)).Order());
        Assert.Empty(await bed.Store.ListAsync(new AlertQuery { IncludeClosed = true, Outcomes = [] }, Ct));
        Assert.Equal(5, (await bed.Store.ListAsync(new AlertQuery { IncludeClosed = true }, Ct)).Count);
    }

    [Fact]
    public async Task EndConditionAsync_UntouchedAlert_IsClearedAndKept()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();

        var changed = await bed.Store.EndConditionAsync(alert.Key, new("SpO2 back within limits", "SpO2 revenue"), bed.Clock.Now, Ct);

        var cleared = Assert.Single(changed);
        Assert.Equal(AlertStatuses.Cleared, cleared.Status);
        Assert.Equal(bed.Clock.Now, cleared.ConditionEndedAt);
        Assert.Equal("cleared", (await bed.Store.ActionsAsync(alert.Id, null, null, null, Ct))[^1].Action);
        Assert.Contains(await bed.Store.ListAsync(new AlertQuery { IncludeClosed = true }, Ct), a => a.Id == alert.Id);
    }

    [Fact]
    public async Task EndConditionAsync_AlertANurseWorksOn_StaysOpenMarkedEnded()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync();
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);

        var ended = Assert.Single(await bed.Store.EndConditionAsync(alert.Key, new("back", "revenue"), bed.Clock.Now, Ct));

        Assert.Equal(AlertStatuses.Open, ended.Status);
        Assert.NotNull(ended.ConditionEndedAt);
        var recurred = await bed.RaiseAsync();
        Assert.Equal(alert.Id, recurred.Id);
        Assert.Null(recurred.ConditionEndedAt);
        Assert.Equal("recurred", (await bed.Store.ActionsAsync(alert.Id, null, null, null, Ct))[^1].Action);
    }

    [Fact]
    public async Task RaiseAsync_AfterResolveWhileConditionLasts_OpensNothingUnlessWorse()
    {
        await using var bed = await NewBedAsync();
        var alert = await bed.RaiseAsync(AlertTestBed.Draft(severity: AlertSeverity.Warning));
        await bed.Workflow.ClaimAsync(alert.Id, "alice", Ct);
        await bed.Workflow.ResolveAsync(alert.Id, "alice", AlertOutcomes.ManagedAtHome, null, Ct);

        Assert.Null(await bed.Store.RaiseAsync(AlertTestBed.Draft(severity: AlertSeverity.Warning), bed.Clock.Now, Ct));
        var worse = await bed.RaiseAsync(AlertTestBed.Draft(severity: AlertSeverity.Critical));
        Assert.NotEqual(alert.Id, worse.Id);

        await bed.Store.EndConditionAsync(alert.Key, new("back", "revenue"), bed.Clock.Now, Ct);
        Assert.NotNull((await bed.Store.GetAsync(alert.Id, Ct))!.ConditionEndedAt);
    }

    [Fact]
    public async Task SnapshotAsync_RanksSeverityThenHistoryAndWaiting()
    {
        await using var bed = await NewBedAsync();
        var waited = await bed.RaiseAsync(AlertTestBed.Draft(patient: "p1", severity: AlertSeverity.Warning));
        bed.Clock.Advance(TimeSpan.FromHours(2));
        var frequent = new List<long>();
        foreach (var subject in new[] { "spo2", "heart-rate", "systolic", "temperature" })
        {
            frequent.Add((await bed.RaiseAsync(AlertTestBed.Draft(patient: "p2", severity: AlertSeverity.Warning, subject: subject))).Id);
        }

        var fresh = await bed.RaiseAsync(AlertTestBed.Draft(patient: "p4", severity: AlertSeverity.Warning));
        var critical = await bed.RaiseAsync(AlertTestBed.Draft(patient: "p3", severity: AlertSeverity.Critical));

        var snapshot = await bed.Board.SnapshotAsync(new AlertQuery(), bed.AdminAccess, Ct);

        // critical 3000; p2: 2000 + 15 × 3 other alerts = 2045; p1: 2000 + 120 min / 4 = 2030; p4: 2000.
        Assert.Equal([critical.Id, .. frequent, waited.Id, fresh.Id], snapshot.Alerts.Select(a => a.Id));
        Assert.Equal([3000, 2045, 2045, 2045, 2045, 2030, 2000], snapshot.Alerts.Select(a => a.Rank));
        Assert.Equal(snapshot.Alerts.Max(a => a.Version), snapshot.Version);
    }
}

/// <summary>The contract on a real SQLite file (<c>alerts.db</c>), as a single node keeps it.</summary>
public sealed class SqliteAlertWorkflowTests : AlertWorkflowContract
{
    protected override Task<AlertTestBed> NewBedAsync(Func<WorkflowDatabase, WorkflowDatabase>? wrap = null) => AlertTestBed.CreateAsync(wrap: wrap);
}

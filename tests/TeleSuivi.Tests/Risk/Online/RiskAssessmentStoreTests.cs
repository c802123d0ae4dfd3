using TeleSuivi.Server.Risk;
using TeleSuivi.Server.Workflow;

namespace TeleSuivi.Tests.Risk.Online;

/// <summary>The scorer's store of RiskAssessments on SQLite: a pass's scores are saved in one transaction.</summary>
public sealed class RiskAssessmentStoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SaveAllAsync_ManyScoresInOneCall_StoresEachAndReplacesARescore()
    {
        var data = Directory.CreateTempSubdirectory("telesuivi-risk-").FullName;
        try
        {
            var store = new RiskAssessmentStore(WorkflowDatabase.Create(new WorkflowOptions(), data, "alerts.db"));
            await store.InitializeAsync(Ct);
            var scores = Enumerable.Range(0, 1200).Select(i => new StoredRiskAssessment($"ra-{i}", $"p-{i % 600}", 1_000 + i, i / 1200.0, "{}")).ToList();

            await store.SaveAllAsync(scores, Ct);
            await store.SaveAllAsync([scores[5] with { Probability = 0.99, Json = """{"again":true}""" }], Ct);

            Assert.Equal(0.99, (await store.FindAsync("ra-5", Ct))!.Probability);
            Assert.Equal("""{"again":true}""", (await store.FindAsync("ra-5", Ct))!.Json);
            Assert.Equal(1199 / 1200.0, (await store.FindAsync("ra-1199", Ct))!.Probability);
            Assert.Equal(600, (await store.LatestAsync(Ct)).Count);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }
}

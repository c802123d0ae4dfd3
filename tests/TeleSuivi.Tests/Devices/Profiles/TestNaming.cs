using System.Diagnostics.CodeAnalysis;

// Test names follow Method_Condition_Result; the underscores are the convention, not a naming mistake.
[assembly: SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Scope = "namespaceanddescendants", Target = "~N:TeleSuivi.Tests.Devices.Profiles")]
[assembly: SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Scope = "namespaceanddescendants", Target = "~N:TeleSuivi.Tests.Devices.Normalization")]

using Hl7.Fhir.Model;
using TeleSuivi.Server.Security;
using TeleSuivi.Server.Alerts;

namespace TeleSuivi.Server.Simulation;

/// <summary>The simulated cohort as the FHIR transaction Bundle a hospital would import: patients, devices, assignments.</summary>
public static class CohortBundle
{
    public static Bundle Build(IEnumerable<SimulatedPatient> patients, DateTimeOffset assignedFrom)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        var today = DateTimeOffset.UtcNow;
        var index = 0;
        foreach (var patient in patients)
        {
            var resource = new Patient
            {
                Id = patient.Id,
                Identifier = [new Identifier("https://telesuivi.org/fhir/sid/simulated-patient", patient.Id)],
                Name = [new HumanName { Family = patient.FamilyName, Given = [patient.GivenName] }],
                Gender = patient.Gender,
                BirthDate = today.AddYears(-patient.Age).ToString("yyyy", System.Globalization.CultureInfo.InvariantCulture),
                Address = [new Address { Use = Address.AddressUse.Home, PostalCode = patient.Zone, Country = "FR" }],
                GeneralPractitioner = [new ResourceReference($"Organization/{DemoTeams.Of(index++)}")],
                // The alert defaults depend on the conditions (SNOMED CT, see Alerts/ClinicalConditions.cs); the simulator keeps
                // an enum of its own with the same names as the risk model's.
                Extension = patient.Conditions.Select(condition => ClinicalConditions.ToExtension(Enum.Parse<TeleSuivi.Risk.Cohort.Condition>(condition.ToString()))).ToList(),
            };

            // What the risk model knows of the patient at enrolment, as a hospital would record it.
            var profile = patient.Physiology.Profile;
            resource.Extension.Add(new Extension(PatientInfo.SeverityExtensionUrl, new Integer(profile.Severity)));
            if (profile.PriorYearExacerbations is { } priorYear)
            {
                resource.Extension.Add(new Extension(PatientInfo.PriorYearExacerbationsExtensionUrl, new Integer(priorYear)));
            }

            Add(bundle, resource);
            foreach (var device in patient.Devices)
            {
                Add(bundle, new Device
                {
                    Id = device.Id,
                    Identifier = [new Identifier("https://telesuivi.org/fhir/sid/simulated-device", device.Id)],
                    Manufacturer = "TeleSuivi simulator",
                    ModelNumber = device.Format,
                    Type = new CodeableConcept("https://telesuivi.org/fhir/CodeSystem/device-kind", device.Kind.ToString()),
                    Patient = new ResourceReference($"Patient/{patient.Id}"),
                });
                Add(bundle, new DeviceUseStatement
                {
                    Id = $"{device.Id}-use",
                    Status = DeviceUseStatement.DeviceUseStatementStatus.Active,
                    Subject = new ResourceReference($"Patient/{patient.Id}"),
                    Device = new ResourceReference($"Device/{device.Id}"),
                    Timing = new Period { StartElement = new FhirDateTime(assignedFrom) },
                });
            }
        }

        return bundle;
    }

    private static void Add(Bundle bundle, Resource resource) => bundle.Entry.Add(new Bundle.EntryComponent
    {
        FullUrl = $"{resource.TypeName}/{resource.Id}",
        Resource = resource,
        Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{resource.Id}" },
    });
}

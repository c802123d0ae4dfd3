using TeleSuivi.Server.CommandLine;

return await TeleSuiviCommandLine.InvokeAsync(args);

"""HTTP handlers of the web service, by feature."""

"""HTTP handlers of the mail store, one module per feature."""

"""Admin for order imports (upload a file, see the summary)."""

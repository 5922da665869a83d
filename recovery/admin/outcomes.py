"""Admin for outcomes."""

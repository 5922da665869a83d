"""Reads for offers."""

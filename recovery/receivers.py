"""Receivers of tickets' domain events (tickets.signals). Each queues work on commit."""

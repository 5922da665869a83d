"""Helpdesk connections: each helpdesk's own webhook comes in here and becomes intake (docs/integrations.md).

Inbound only and part of intake, so this package never imports recovery: it calls the intake services in
tickets/services/, whose domain events recovery already listens to.
"""

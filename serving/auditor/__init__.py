"""Auditor workspace: audit pages and JSON (role auditor) and outcome recording."""

from serving.auditor.app import create_auditor_app, create_workspace_app

__all__ = ["create_auditor_app", "create_workspace_app"]

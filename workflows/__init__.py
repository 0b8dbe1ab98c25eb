"""Stagedesk's engine layer over SpiffWorkflow.

A library: it imports neither Flask nor ``app``.  Parse and lint diagrams
(``workflows.bundle``), run scripts in a sandbox (``workflows.sandbox``), run instances and
report their effects (``workflows.runner``).
"""

"""Copier's tasks and migrations (copier.yml runs them: `python <template>/tasks <task>`)."""

"""Plain, typed helpers behind copier.yml: derived names, validators and the render plan.

Copier loads `hooks.py` by file path (copier-template-extensions), which imports this folder
as a package; the modules are ordinary Python, so the template's tests and tools import
them as `extensions.<module>`.
"""

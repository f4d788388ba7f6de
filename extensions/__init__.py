"""Plain, typed helpers behind copier.yml: derived names, validators and the dependency plan.

Copier loads `hooks.py` by file path (copier-template-extensions); the other modules are
ordinary Python so the template's tests can import and unit-test them.
"""

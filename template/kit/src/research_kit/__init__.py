# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The template's machinery, kept out of the project's own package (kit/README.md)."""

# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""GPU smoke test: whether this machine can run the project, and what to do when it can't.

`facts` gathers what the machine says (the probe boundary), `checks` judges those facts
(pure functions, unit-tested with recorded probe results), `cli` prints the report.
"""

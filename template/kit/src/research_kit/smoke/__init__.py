# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""Smoke test: whether this machine can run the project, and what to do when it can't.

`facts` holds what the machine says (the probe boundary; in a PyTorch project `torch_probe`
adds the build, the devices and real computations), `checks` judges those facts (pure
functions, unit-tested with recorded probe results), `cli` gathers them and prints the report.
"""

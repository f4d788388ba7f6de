# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""The project's set-up, which scripts/setup_env.py runs: one module per job.

steps (the project, its failures, uv, the steps), pins (whose version specifier is whose),
lock (lock and pin), platform_gaps (packages without wheels for a platform), verify (the
lock on every platform), install (sync and check), upgrade, wheelhouse, pixi, cli.
"""

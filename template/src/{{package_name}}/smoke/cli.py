"""`uv run scripts/smoke_test.py`: run every check, print a report, exit with the verdict."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .checks import FAIL, exit_code, gpu_usable, run_checks
from .facts import Facts, gather

SCHEMA_VERSION = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check that this machine can run the project.")
    parser.add_argument("--require-gpu", action="store_true", help="exit 2 if no usable GPU")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="skip the multi-GPU all-reduce")
    parser.add_argument("--facts", help="judge facts recorded earlier (a --json output)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.facts:
        with open(args.facts, encoding="utf-8") as recorded:
            facts = Facts.from_json(json.load(recorded)["facts"])
    else:
        facts = gather(quick=args.quick)
    results = run_checks(facts)
    usable = gpu_usable(facts, results)
    code = exit_code(results, usable, args.require_gpu)
    verdict = _verdict(code, usable)

    if args.json:
        report = {
            "schema": SCHEMA_VERSION,
            "verdict": verdict,
            "exit_code": code,
            "gpu_usable": usable,
            "seconds": round(time.perf_counter() - started, 2),
            "checks": [vars(check) for check in results],
            "facts": facts.to_json(),
        }
        print(json.dumps(report, indent=2))
        return code

    width = max(len(check.name) for check in results)
    for check in results:
        print(f"{check.status:<4}  {check.name:<{width}}  {check.summary}")
        if check.remedy and check.status in (FAIL, "WARN"):
            print(f"{'':<4}  {'':<{width}}  -> {check.remedy}")
    print(f"\nVERDICT: {VERDICTS[verdict]}")
    return code


VERDICTS = {
    "failed": "NOT USABLE: a check failed (see FAIL above)",
    "no-gpu": "NO USABLE GPU, and --require-gpu was given",
    "gpu": "USABLE on GPU",
    "cpu": "USABLE on CPU (no GPU here)",
}


def _verdict(code: int, usable: bool) -> str:
    if code == 1:
        return "failed"
    if code == 2:
        return "no-gpu"
    return "gpu" if usable else "cpu"


if __name__ == "__main__":
    sys.exit(main())

"""`tox -e sandbox`: bring the sandbox up, run the whole flow against it, bring it down.

Usage: python -m publik_sandbox.rehearse [--fault NAME[:TARGET]]... [--instances N] [-- pytest args]
Exits with the suite's exit code; the sandbox is brought down on every path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from publik_sandbox import Sandbox, SandboxError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("--fault", action="append", default=[], help="break the sandbox (see inv sandbox.faults)")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    extra = [a for a in args.pytest_args if a != "--"]
    sandbox = Sandbox(instances=args.instances)
    try:
        sandbox.up(faults=args.fault)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 3
    try:
        command = [sys.executable, "-m", "pytest", "--env", "sandbox", "--phase", "all", *extra]
        print("$ " + " ".join(command), flush=True)
        return subprocess.call(command)
    finally:
        sandbox.down()


if __name__ == "__main__":
    sys.exit(main())

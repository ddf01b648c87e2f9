"""The mutation score per module after `mutmut run` (make mutate): killed / total, and the survivors by name.
Killed counts the mutants the tests failed on and those whose tests never finished (mutmut's timeouts).

Run from the project's root, as `make mutate` does: `python -m tests.mutation_score [--goal 90]`. Reads mutmut's
own results (`mutmut results --all true`); a survivor is shown with `mutmut show <name>`. docs/mutation.md lists
the survivors that are equivalent to the code (no test can tell them apart) with the reason for each."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

# Functions of a mutated file that are not the security-critical part of it (docs/mutation.md says why): counted
# apart, not in the module's score.
OUT_OF_SCOPE = {
    "audit.csv_export": {"report_lines", "_iso", "report_line", "response"},  # the guard is neutralise and stream
}
# A mutant whose tests never finish (an endless loop) is caught as surely as one they fail on.
CAUGHT = {"killed", "timeout"}
LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")
# mutmut's mangled names: module.x_function__mutmut_N or module.xǁClassǁmethod__mutmut_N
NAME = re.compile(r"^(?P<module>.+?)\.x(?:_|ǁ(?P<cls>[^ǁ]+)ǁ)(?P<function>.+)__mutmut_\d+$")


def results(mutmut: str) -> list[tuple[str, str, str]]:
    """(module, function, status) of every mutant mutmut made."""
    text = subprocess.run([mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in text.splitlines():
        if (match := LINE.match(line)) and (name := NAME.match(match["name"])):
            found.append((name["module"], name["function"], match["status"]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutmut", default=str(Path(sys.executable).with_name("mutmut")))
    parser.add_argument("--goal", type=float, default=0.0, help="exit 1 when a module scores below this (per cent)")
    args = parser.parse_args()
    by_module: dict[str, Counter] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for module, function, status in results(args.mutmut):
        if status == "not checked":  # a run narrowed to other modules (MUTANTS=…) did not test it
            continue
        scope = "out of scope" if function in OUT_OF_SCOPE.get(module, ()) else "in scope"
        by_module[module][(scope, status)] += 1
        if scope == "in scope" and status not in CAUGHT:
            survivors[module].append(f"{function}: {status}")
    total_killed = total = 0
    low = []
    print(f"{'module':36} {'killed':>7} {'total':>6} {'score':>7}   not in scope")
    for module in sorted(by_module):
        counts = by_module[module]
        killed = sum(counts[("in scope", status)] for status in CAUGHT)
        made = sum(n for (scope, _), n in counts.items() if scope == "in scope")
        apart = sum(n for (scope, _), n in counts.items() if scope == "out of scope")
        if not made:
            print(f"{module:36} {'not run':>22}")
            continue
        score = 100 * killed / made
        total_killed, total = total_killed + killed, total + made
        low += [module] if score < args.goal else []
        print(f"{module:36} {killed:7} {made:6} {score:6.1f}%   {apart or ''}")
    print(f"{'all':36} {total_killed:7} {total:6} {100 * total_killed / max(total, 1):6.1f}%")
    for module, names in sorted(survivors.items()):
        print(f"\n{module}: {len(names)} not killed")
        for line, n in sorted(Counter(names).items()):
            print(f"    {line}" + (f" (x{n})" if n > 1 else ""))
    if low:
        print(f"\nBelow {args.goal:g}%: {', '.join(low)}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())

"""Kill rate per module of the last mutmut run, and the gate of issue 7.

Reads mutmut's results (``mutants/<module>.py.meta``) for the modules listed under
``[tool.mutmut] only_mutate`` in pyproject.toml and the reviewed equivalent mutants in
``tests/mutation/*.txt`` (one ``<mutant name>  <one-line reason>`` per line, ``#``
comments; one file per module).

Per module: mutants, killed (a test failed, or the mutant timed out / crashed), survived,
equivalent (listed), not reached (run cut short), kill rate = killed / (mutants −
equivalent). Exit 1 when a module is below ``GOAL`` (0.90), a survivor is not listed, a
mutant was not reached, or a listed mutant no longer survives (a stale entry); else 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "tests" / "mutation"
GOAL = 0.90
# mutmut's exit codes per mutant: 1 a test failed; 0 every test passed; 33 no test
# covers it; 37 the type checker caught it; negative or 152/-24 killed by a signal
# (timeout, segfault): the mutant broke the code, so it counts as killed.
SURVIVED = {0, 33}


@dataclass
class ModuleResult:
    path: str
    killed: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.killed) + len(self.survived) + len(self.equivalent) + len(self.not_reached)

    @property
    def kill_rate(self) -> float:
        counted = self.total - len(self.equivalent)
        return len(self.killed) / counted if counted else 1.0


def load_equivalents(folder: Path = EQUIVALENTS) -> dict[str, str]:
    """``{mutant name: reason}`` from every ``*.txt`` in ``folder``; raises ValueError
    for a line without a reason."""
    result: dict[str, str] = {}
    for path in sorted(folder.glob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(" ")
            if not reason.strip():
                raise ValueError(f"{path.name}:{number}: {name} has no reason")
            result[name] = reason.strip()
    return result


def module_results(equivalents: dict[str, str]) -> list[ModuleResult]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    results = []
    for module in config["only_mutate"]:
        meta = ROOT / "mutants" / f"{module}.meta"
        result = ModuleResult(module)
        if not meta.exists():
            result.not_reached.append(f"{module} (no results)")
            results.append(result)
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in sorted(codes.items()):
            if code is None:
                result.not_reached.append(name)
            elif code in SURVIVED:
                (result.equivalent if name in equivalents else result.survived).append(name)
            else:
                result.killed.append(name)
        results.append(result)
    return results


def show(name: str) -> str:
    """The diff of one mutant, as ``mutmut show`` prints it."""
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    done = subprocess.run([str(mutmut), "show", name], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def forget_survivors() -> int:
    """Mark surviving and untested mutants that are not listed as equivalent as not run,
    and drop mutmut's test map, so the next ``mutmut run`` checks them again against the
    current tests (mutmut keeps a result otherwise). Returns the number marked."""
    equivalents = load_equivalents()
    marked = 0
    for meta in (ROOT / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data["exit_code_by_key"].items():
            if code in SURVIVED and name not in equivalents:
                data["exit_code_by_key"][name] = None
                marked += 1
        meta.write_text(json.dumps(data), encoding="utf-8")
    (ROOT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    return marked


def main() -> int:
    if sys.argv[1:] == ["--forget-survivors"]:
        print(f"{forget_survivors()} surviving or untested mutants will be checked again")
        return 0
    equivalents = load_equivalents()
    results = module_results(equivalents)
    print(f"{'module':32} {'mutants':>7} {'killed':>7} {'survived':>8} {'equiv.':>6} {'not run':>7} {'kill rate':>9}")
    ok = True
    for r in results:
        mark = "  < goal" if r.kill_rate < GOAL else ""
        print(
            f"{r.path:32} {r.total:7} {len(r.killed):7} {len(r.survived):8} {len(r.equivalent):6} "
            f"{len(r.not_reached):7} {r.kill_rate:9.1%}{mark}"
        )
        ok &= r.kill_rate >= GOAL and not r.not_reached and not r.survived
    all_equivalent = {n for r in results for n in r.equivalent}
    stale = sorted(set(equivalents) - all_equivalent)
    survivors = [n for r in results for n in r.survived]
    if survivors:
        print(f"\n{len(survivors)} surviving mutants not listed in {EQUIVALENTS.relative_to(ROOT)}/*.txt:")
        for name in survivors:
            print(f"\n{show(name)}")
    if stale:
        ok = False
        print(f"\nListed as equivalent but not surviving (remove or update): {', '.join(stale)}")
    not_reached = sum(len(r.not_reached) for r in results)
    if not_reached:
        print(f"\n{not_reached} mutants not reached: run scripts/mutation.sh again to continue.")
    print(f"\nmutation gate: {'passed' if ok else 'failed'} (goal {GOAL:.0%} killed per module)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

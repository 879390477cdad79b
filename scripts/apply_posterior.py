"""Write a calibration's posterior medians into a scenario file, as the values a run takes when it does not draw.

    .venv/bin/python scripts/apply_posterior.py runs/calibration/posterior.toml scenarios/panjshir-2021.toml

Each "sides.SIDE.key" of the posterior's [medians] is set in the file's [sides.SIDE] table (the line replaced in
place, or added at the table's end), with a comment saying where it came from; nothing else in the file changes.
The posterior's sets themselves are read by the scenario's `[uncertain] parameters` (copy posterior.toml to
scenarios/history/posterior.toml).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def apply(posterior: Path, scenario: Path) -> list[str]:
    medians = tomllib.loads(posterior.read_text())["medians"]
    lines = scenario.read_text().splitlines()
    said = []
    for dotted, value in medians.items():
        table, key = dotted.rsplit(".", 1)
        header = f"[{table}]"
        start = next(i for i, line in enumerate(lines) if line.strip() == header)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        text = f"{key} = {value:.4g}   # calibrated: the posterior median (scenarios/history/posterior.toml)"
        found = [i for i in range(start + 1, end) if re.match(rf"{re.escape(key)}\s*=", lines[i])]
        if found:
            lines[found[0]] = text
        else:
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1
            lines.insert(end, text)
        said.append(f"{dotted} = {value:.4g}")
    scenario.write_text("\n".join(lines) + "\n")
    return said


if __name__ == "__main__":
    for line in apply(Path(sys.argv[1]), Path(sys.argv[2])):
        print(line)

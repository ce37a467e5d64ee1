"""Each built-in guide checked with its own region and with ``--guide-region narrow``.

    python -m benchmarks.studies.guide_regions               # 20 episodes per policy, reset seeds 10000..10019

For every built-in task, ``guidedrl.guide_check.check_guide`` with the default region and with
the narrow one: the share of the visited states in the region along the guide's own and the
random policy's trajectories, the share of the default region's visited states the narrow one
keeps, and whether the guide does worse than the zero action inside its region. Writes
docs/results/guide_regions.json and the table in docs/GUIDES.md between markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from guidedrl.envs import TASKS
from guidedrl.guide_check import check_guide

from benchmarks.common import ROOT, command, meta, write_section


def _share(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.1%}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args(argv)
    measured = meta(command(__spec__.name, argv))
    results, lines = {}, [
        "| task | guide | in region, default: guide's / random's states | in region, narrow: guide's / random's "
        "| narrow keeps of the default region's states: guide's / random's | (b) guide + zero: default / narrow "
        "| (d) zero | worse than zero: default / narrow |",
        "|---|---|---|---|---|---|---|---|"]
    for task_id in TASKS:
        default, narrow = (check_guide(task_id, region=region, episodes=args.episodes)
                           for region in ("default", "narrow"))
        results[task_id] = {"default": default.to_dict(), "narrow": narrow.to_dict()}
        kept = narrow.default_region_kept
        lines.append(
            f"| {task_id} | {default.guide} | {_share(default.coverage['guide'])} / {_share(default.coverage['random'])} "
            f"| {_share(narrow.coverage['guide'])} / {_share(narrow.coverage['random'])} "
            f"| {_share(kept['guide'])} / {_share(kept['random'])} "
            f"| {default.policies['guide+zero'].mean_return:.1f} / {narrow.policies['guide+zero'].mean_return:.1f} "
            f"| {default.policies['zero'].mean_return:.1f} "
            f"| {'yes' if default.guide_worse_than_zero else 'no'} / {'yes' if narrow.guide_worse_than_zero else 'no'} |")
        print(lines[-1], flush=True)
    (ROOT / "docs/results/guide_regions.json").write_text(json.dumps({**measured, "tasks": results}, indent=1) + "\n")
    write_section(ROOT / "docs/GUIDES.md", "guide-regions", "\n".join(lines), measured,
                  note=f"{args.episodes} episodes per policy, reset seeds 10000..{10_000 + args.episodes - 1}; "
                       "in region: λ(s) >= 0.5; — where no state of the default region was visited")
    return 0


if __name__ == "__main__":
    sys.exit(main())

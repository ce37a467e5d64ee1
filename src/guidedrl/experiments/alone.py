"""Each built-in task's default guide acting alone, measured and stored with the package: the
numbers ``guidedrl envs`` shows and the reports' reference lines (:data:`guidedrl.envs.ALONE_FILE`,
read back by :func:`guidedrl.envs.stored_alone`).

:func:`measure_guides_alone` measures them (``guidedrl.envs.make_guide.measure_alone``: the
guide's policy at every step, deterministic episodes seeded 10000, 10001, ...); :func:`store_alone`
writes them with the date, the cores and the command that measured them.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional


def measure_guides_alone(episodes: int = 20,
                         on_task: Optional[Callable[[str, dict, float], None]] = None) -> Dict[str, dict]:
    """Per built-in task (:data:`guidedrl.envs.TASKS`): its default guide alone over ``episodes``
    episodes (episodes, seed, mean and std of the return, catastrophes and their rate, mean
    length, returns); ``on_task(task id, its measurement, seconds)`` after each task."""
    from guidedrl.envs import TASKS, default_guide
    from guidedrl.envs.make_guide import measure_alone

    measured = {}
    for task_id in TASKS:
        started = time.perf_counter()
        measured[task_id] = measure_alone(default_guide(task_id), task_id, episodes=episodes)
        if on_task is not None:
            on_task(task_id, measured[task_id], time.perf_counter() - started)
    return measured


def alone_record(measured: Mapping[str, dict], command: str) -> Dict[str, object]:
    """What :func:`store_alone` writes: when, on how many cores and by which command the guides
    were measured, and per task what was measured."""
    return {"date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "command": command,
            "tasks": dict(measured)}


def store_alone(record: Mapping[str, object], path: Optional[Path] = None) -> Path:
    """Write ``record`` (:func:`alone_record`) to ``path``, by default the file the package reads
    (:data:`guidedrl.envs.ALONE_FILE`). Returns the path."""
    from guidedrl.envs import ALONE_FILE

    path = Path(path) if path is not None else ALONE_FILE
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path

"""``guidedrl bench`` owns its --out as ``guidedrl train`` owns a run directory: a second grid into
the same directory is refused with the owner's pid, before any trial starts."""

import os

from guidedrl.cli import main
from guidedrl.training.lock import RunLock


def test_a_second_grid_into_one_out_is_refused_with_the_owners_pid(tmp_path, capsys):
    out = tmp_path / "bench"
    owner = RunLock(out, what="bench output directory").acquire()  # a grid running into OUT
    try:
        code = main(["bench", "--suite", "quick", "--seeds", "1", "--steps", "20", "--out", str(out),
                     "--no-progress"])
    finally:
        owner.release()
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert f"bench output directory {str(out)!r} is in use by process {os.getpid()}" in err
    assert "\n" not in err and not (out / "runs").exists()  # refused before anything was written

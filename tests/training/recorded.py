"""Two short runs' metrics.csv: the same seed must give the same file, apart from the timing
columns, on the same platform.

Recorded first with the single-function loop (64c2eb4); the loop in phases (6fba9c0) gave
identical files. Re-recorded when the loop began to hold the agent state packed into one
buffer per dtype (guidedrl.training.flat): the same arithmetic compiled as another XLA program
rounds differently in float32, which the SafeCartpole-v0 run amplified to an evaluation return of
6.43 against 9.01 at step 1500 (the Pendulum-v1 run was unchanged).

    python -m tests.training.recorded      # re-record into tests/training/data (only when a change of numbers is intended)
"""

import json
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"

RUNS = {
    "safecartpole-sac-pag": dict(env="SafeCartpole-v0", algo="sac", guidance="pag", guide="default",
                                 steps=1500, seed=3, hidden_sizes=(32, 32), batch_size=64,
                                 learning_starts=500, eval_every=500, eval_episodes=2,
                                 checkpoint_every=500, progress=False),
    "pendulum-td3-sag": dict(env="Pendulum-v1", algo="td3", guidance="sag", guide="lqr",
                             steps=900, seed=1, hidden_sizes=(32, 32), batch_size=64,
                             learning_starts=300, train_every=2, eval_every=300, eval_episodes=2,
                             checkpoint_every=300, progress=False),
}


CPU_FEATURES = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile")
"""Instruction sets XLA's CPU code generation chooses kernels by: the same versions on an AVX-512
CPU and on an AVX2-only one round differently (seen: 1e-9 relative on Pendulum-v1's returns)."""


def cpu_features() -> list:
    """Which of :data:`CPU_FEATURES` this CPU has (from /proc/cpuinfo; empty where it is absent)."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        flags = []
    return [name for name in CPU_FEATURES if name in flags]


def platform_key() -> dict:
    """What the numbers depend on besides the code and the seed."""
    import jax
    import jaxlib
    import mujoco
    import numpy

    return {"machine": platform.machine(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "numpy": numpy.__version__, "mujoco": mujoco.__version__, "cpu": cpu_features()}


def record(out_dir: Path = HERE) -> None:
    import shutil
    import tempfile

    import guidedrl
    from guidedrl.config import Config
    from guidedrl.training.loop import train

    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in RUNS.items():
            run_dir = Path(tmp) / name
            train(Config(**settings, out=str(run_dir)))
            shutil.copy(run_dir / "metrics.csv", out_dir / f"{name}.csv")
    (out_dir / "platform.json").write_text(json.dumps(platform_key(), indent=2) + "\n")


if __name__ == "__main__":
    record()

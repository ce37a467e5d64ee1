"""The point tasks' verified repulsive guides.

The guides (:func:`point_circle_guide`, :func:`point_reach_guide`) are one scripted reflex,
:func:`repulsive_reflex`, given the direction away from the danger: it turns the robot's axis
onto that direction (facing away, or facing the danger to back away, whichever is the nearer
turn) and thrusts so that the force never points at the danger. λ(s) = 1 where the distance to
the danger is below ``CIRCLE_GUIDE_DISTANCE`` = 0.3 (to the nearer wall: |x| > 0.825) or
``REACH_GUIDE_CLEARANCE`` = 0.3 (between the robot's and the nearest obstacle's surfaces).

Verification (:func:`verify_region`): the reflex alone is simulated, in MuJoCo, from many
states at the region's edge — danger distance in [threshold - ``VERIFIED_DEPTH``, threshold] =
[0.2, 0.3], which contains every state where the guide takes over from outside (one step at
top speed covers ``MAX_SPEED * CONTROL_DT`` = 0.02 m) — half of them moving straight at the
danger at the measured top speed (:func:`measure_top_speeds`), the rest slower and up to 90°
off, any heading, turn rates up to the measured top rate; none may reach the catastrophe
within ``VERIFY_HORIZON`` = 200 steps (4 s).

How the thresholds were chosen: at top speed straight at a wall, over a grid of 181 headings ×
17 turn rates, the reflex stops within 0.140 m at worst (worst case: heading nearly parallel to
the wall, turning the wrong way at full rate); its gains hardly matter (0.137-0.145 m for turn
gains 1.5-6 and thrust gains 1.5-10); coasting takes 0.25 m. A threshold of 0.3 puts the
verified layer's inner edge 0.2 m from the danger, 0.06 m more than the worst stop. Measured: 0 failures in 10,000 states per task (seeds 0
and 1, 5,000 each), closest approach 0.065 m; tests/envs/test_point.py re-checks 1,000 per task.
States deeper in the region at top speed cannot all be saved: started within 0.1 m of the
danger, about half fail; anywhere in [0, 0.3], about a fifth. Coasting (zero action) from the
verified layer fails in about a quarter of the states, thrusting at the danger in all of them.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple, Type, Union

import mujoco
import numpy as np
from mujoco import rollout

from guidedrl.envs.point.robot import N_SUBSTEPS, ROBOT_RADIUS, measure_top_speeds, point_model
from guidedrl.envs.point.tasks import (
    N_OBSTACLES,
    OBSTACLE_RADIUS,
    REACH_GUIDE_CLEARANCE,
    WALL_X,
    PointCircleEnv,
    PointEnv,
    PointReachEnv,
)
from guidedrl.errors import EnvError
from guidedrl.guides.base import Guide
from guidedrl.guides.regions import near

# -- the regions (PointReach's, REACH_GUIDE_CLEARANCE, is in tasks.py), the reflex, verification ----
CIRCLE_GUIDE_DISTANCE = 0.3
"""λ = 1 where the distance to the nearer wall, WALL_X - |x|, is below this."""
CIRCLE_GUIDE_X = WALL_X - CIRCLE_GUIDE_DISTANCE
"""λ = 1 where |x| > CIRCLE_GUIDE_X."""
REFLEX_TURN_GAIN = 3.0
"""Turn action per radian between the robot's axis and the direction away from the danger."""
REFLEX_THRUST_GAIN = 3.0
"""Thrust action per unit of cos(heading, away direction)."""
VERIFIED_DEPTH = 0.1
"""Verified start states lie within this distance inside the region's edge (5 steps at top speed)."""
VERIFY_HORIZON = 200
"""Steps (4 s) the reflex alone must keep every verified start state out of the catastrophe."""


# -- the reflex ---------------------------------------------------------------------------------


def repulsive_reflex(away_forward: np.ndarray, away_left: np.ndarray) -> np.ndarray:
    """Actions (..., 2) that push the robot along a unit direction given in its own frame.

    ``(away_forward, away_left)`` is the direction away from the danger, in the robot's frame
    (forward along the heading, left 90° counter-clockwise). The robot turns its axis onto
    that direction — towards whichever of +away or -away is nearer, so never more than 90° —
    and thrusts with the sign of cos(heading, away), so the force never has a component
    towards the danger: forward to drive away, backward (braking, then reversing) while it
    faces the danger.
    """
    away_forward, away_left = np.asarray(away_forward, float), np.asarray(away_left, float)
    facing = np.where(away_forward < 0.0, -1.0, 1.0)
    axis_error = np.arctan2(facing * away_left, facing * away_forward)  # in [-π/2, π/2]
    thrust = np.clip(REFLEX_THRUST_GAIN * away_forward, -1.0, 1.0)
    turn = np.clip(REFLEX_TURN_GAIN * axis_error, -1.0, 1.0)
    return np.stack([thrust, turn], axis=-1)


# -- the guides ---------------------------------------------------------------------------------


def _circle_away(obs: np.ndarray):
    """Direction away from the nearer wall, (-sign x, 0), in the robot's frame."""
    obs = np.asarray(obs, float)
    away_x = np.where(obs[..., 0] >= 0.0, -1.0, 1.0)
    cos, sin = obs[..., 4], obs[..., 5]
    return away_x * cos, -away_x * sin


def circle_guide_policy(obs: np.ndarray) -> np.ndarray:
    """The wall reflex on PointCircle observations (one, or a batch (n, 7))."""
    return repulsive_reflex(*_circle_away(obs))


def circle_guide_distance(obs: np.ndarray) -> float:
    """The distance from the robot's centre to the nearer wall, WALL_X - |x|, from one
    observation (as :func:`circle_wall_distance` from positions)."""
    return WALL_X - abs(float(obs[0]))


circle_guide_confidence = near(circle_guide_distance, CIRCLE_GUIDE_DISTANCE)
"""1 where the nearer wall is closer than CIRCLE_GUIDE_DISTANCE (|x| > CIRCLE_GUIDE_X), else 0
(narrowed: closer than half of it)."""


def point_circle_guide() -> Guide:
    """The repulsive guide of PointCircle-v0: push away from the nearer wall when |x| > CIRCLE_GUIDE_X."""
    return Guide(circle_guide_policy, circle_guide_confidence, name="point-circle-wall-reflex",
                 obs_dim=7, made_for="PointCircle-v0")


def _nearest_obstacle(obs: np.ndarray):
    """(clearance, unit direction away from it in the robot's frame) of the nearest obstacle."""
    obs = np.asarray(obs, float)
    seen = obs[..., 9:].reshape(*obs.shape[:-1], -1, 2)
    centre_distance = np.linalg.norm(seen, axis=-1)
    nearest = np.argmin(centre_distance, axis=-1)
    offset = np.take_along_axis(seen, nearest[..., None, None], axis=-2)[..., 0, :]
    distance = np.take_along_axis(centre_distance, nearest[..., None], axis=-1)[..., 0]
    away = -offset / np.maximum(distance, 1e-9)[..., None]
    return distance - OBSTACLE_RADIUS - ROBOT_RADIUS, away


def reach_guide_policy(obs: np.ndarray) -> np.ndarray:
    """The obstacle reflex on PointReach observations (one, or a batch (n, 19))."""
    _, away = _nearest_obstacle(obs)
    return repulsive_reflex(away[..., 0], away[..., 1])


def reach_clearance(obs: np.ndarray) -> float:
    """The clearance between the robot's and the nearest obstacle's surfaces."""
    clearance, _ = _nearest_obstacle(obs)
    return float(clearance)


reach_guide_confidence = near(reach_clearance, REACH_GUIDE_CLEARANCE)
"""1 where the nearest obstacle's clearance is below REACH_GUIDE_CLEARANCE, else 0 (narrowed:
below half of it)."""


def point_reach_guide() -> Guide:
    """The repulsive guide of PointReach-v0: move away from the nearest obstacle when its
    clearance is below REACH_GUIDE_CLEARANCE."""
    return Guide(reach_guide_policy, reach_guide_confidence, name="point-reach-obstacle-reflex",
                 obs_dim=9 + 2 * N_OBSTACLES, made_for="PointReach-v0")


# -- verification -------------------------------------------------------------------------------

_TASKS: Dict[str, Tuple[Type[PointEnv], Callable[[np.ndarray], np.ndarray], float]] = {
    "PointCircle-v0": (PointCircleEnv, circle_guide_policy, CIRCLE_GUIDE_DISTANCE),
    "PointReach-v0": (PointReachEnv, reach_guide_policy, REACH_GUIDE_CLEARANCE),
}


def _task(env: Union[str, Type[PointEnv]]):
    if isinstance(env, str):
        name = env.split("/")[-1]
        if name not in _TASKS:
            raise EnvError(f"verify_region knows {', '.join(_TASKS)}; got {env!r}")
        return _TASKS[name]
    for entry in _TASKS.values():
        if entry[0] is env:
            return entry
    raise EnvError(f"verify_region knows PointCircleEnv and PointReachEnv; got {env!r}")


def simulate_batch(env: Union[str, Type[PointEnv]], qpos: np.ndarray, qvel: np.ndarray, layout,
                   policy: Callable[[np.ndarray], np.ndarray], horizon: int) -> np.ndarray:
    """Run ``policy`` (a batch of observations -> a batch of actions) from each state for
    ``horizon`` env steps in MuJoCo (one ``mujoco.rollout`` call per env step, so the policy
    closes the loop as in the env); returns the danger distance after every step, (n, horizon)."""
    env_cls = _task(env)[0]
    model = point_model(env_cls.arena_half_width)
    data = mujoco.MjData(model)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    qpos_at = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_TIME)
    qvel_at = qpos_at + model.nq
    state = np.zeros((len(qpos), mujoco.mj_stateSize(model, spec)))
    state[:, qpos_at:qvel_at], state[:, qvel_at:qvel_at + model.nv] = qpos, qvel
    distances = np.empty((len(qpos), horizon))
    for t in range(horizon):
        obs = env_cls._batch_observation(state[:, qpos_at:qvel_at], state[:, qvel_at:qvel_at + model.nv], layout)
        action = np.clip(np.asarray(policy(obs), float).reshape(len(qpos), 2), -1.0, 1.0)
        control = np.repeat(action[:, None, :], N_SUBSTEPS, axis=1)
        state = rollout.rollout(model, data, state, control)[0][:, -1]
        distances[:, t] = env_cls._danger_distance(state[:, qpos_at:qvel_at], layout)
    return distances


def verify_region(env: Union[str, Type[PointEnv]], n_states: int = 2000, horizon: int = VERIFY_HORIZON,
                  seed: int = 0, distance: Optional[Tuple[float, float]] = None,
                  policy: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> dict:
    """Check that the guide alone keeps the robot out of the catastrophe from the region's edge.

    ``n_states`` start states are drawn (from ``seed``) with the danger distance — to the
    nearer wall, or the nearest obstacle's clearance — in ``distance`` (default: the verified
    layer [threshold - VERIFIED_DEPTH, threshold]), half of them moving straight at the danger
    at the measured top speed, the rest slower and up to 90° off, any heading, turn rates up
    to the measured top rate. ``policy`` (default: the task's guide policy) then acts alone
    for ``horizon`` steps. Returns the counts, the closest approach, and the speeds used.
    """
    env_cls, guide_policy, threshold = _task(env)
    lo, hi = distance if distance is not None else (threshold - VERIFIED_DEPTH, threshold)
    speed, turn_rate = measure_top_speeds()
    rng = np.random.default_rng(seed)
    qpos, qvel, layout = env_cls._region_states(rng, n_states, (lo, hi), speed, turn_rate)
    distances = simulate_batch(env_cls, qpos, qvel, layout, policy or guide_policy, horizon)
    failed = np.any(distances < 0.0, axis=1)
    return {
        "states": int(n_states), "failures": int(failed.sum()), "horizon": int(horizon),
        "distance": (float(lo), float(hi)), "closest": float(distances.min()),
        "max_speed": speed, "max_turn_rate": turn_rate,
    }

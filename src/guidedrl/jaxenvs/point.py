"""JAX twins of the point tasks PointCircle-v0 and PointReach-v0, and their guides (issue 34).

:class:`PointCircleJax` and :class:`PointReachJax` are :class:`~guidedrl.jaxenvs.base.JaxEnv`\\ s
that step as :class:`~guidedrl.envs.point.tasks.PointCircleEnv` and
:class:`~guidedrl.envs.point.tasks.PointReachEnv` do, without MuJoCo: the robot's model
(:mod:`guidedrl.envs.point.robot`) is small enough to write its physics out by hand.

One MuJoCo step of that model with the ``implicitfast`` integrator, as :func:`_substep` computes it:

- forces (``qfrc_smooth``): thrust ``FORWARD_FORCE·a₀`` along the heading θ, slide damping
  ``-c·v``, the turn servo's torque ``g·kv·(a₁ - g·ω)``; no bias force (the centre of mass is on
  the hinge's axis, gravity is off);
- PointReach's arena: a joint-limit row on x or y once it is past ±(ARENA_HALF_WIDTH -
  ROBOT_RADIUS), with MuJoCo's default solref (0.02, 1) and solimp (0.9, 0.95, 0.001, 0.5, 2):
  reference acceleration ``aref = -b·J·v - k·imp·pos``, regulariser ``R = invweight·(1-imp)/imp``.
  The mass matrix is diagonal [m, m, I], so each row is its own one-dimensional problem and
  Newton's solution is in closed form: force ``f = max(0, -(J·a₀ - aref)/(R + 1/m))``;
- ``qacc = (M - dt·D)⁻¹ (qfrc_smooth + qfrc_constraint)``, D the derivative of the forces in the
  velocity (damping ``-c``, servo ``-g²kv``): damping and servo implicit, the constraint solved
  with M (as MuJoCo's ``mj_implicit``);
- ``qvel += dt·qacc``, then ``qpos += dt·qvel`` (semi-implicit Euler).

The heading is kept in [-π, π] (MuJoCo's grows without bound; only cos θ and sin θ are seen),
and positions and velocities carry a residual (:class:`RobotState`): with exact products and
sums (TwoProduct, TwoSum) the float32 state stays the float64 one rounded, where plain float32
drifts by 1e-5 to 1e-4 over thousands of steps (the same rounding at every substep of a steady
motion adds up).

Measured against the NumPy envs (tests/jaxenvs/test_point_twins.py), open loop from the same
state over 3,000 and 10,000 steps of random, full-thrust and goal-seeking actions in float32:
positions within 4.6e-7 (float32's spacing), observations within 4.8e-7 on PointCircle and
5.6e-6 on PointReach (a few steps after hitting the arena's limit: the soft limit acts from the
substep the robot crosses it), rewards within 1.5e-6, catastrophe flags equal. In float64 the
state is MuJoCo's to 1e-11; PointReach's differs by up to 4e-7 in velocity where MuJoCo's
Newton solver stops at its tolerance (the twin solves each limit row exactly).

Speed on a 2-core CPU busy with other work, in a jitted ``lax.scan``: 3-6 µs per step for one
env of either task, 0.5-1 µs per env step vmapped over 64. PointReach's reset (rejection
sampling of its layout, ~15 obstacle candidates) costs 30-60 µs.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from guidedrl.envs.point.guides import CIRCLE_GUIDE_DISTANCE, REFLEX_THRUST_GAIN, REFLEX_TURN_GAIN
from guidedrl.envs.point.robot import (
    FORWARD_FORCE,
    LINEAR_DAMPING,
    MAX_TURN_RATE,
    N_SUBSTEPS,
    ROBOT_MASS,
    ROBOT_RADIUS,
    TIMESTEP,
    TURN_TIME_CONSTANT,
)
from guidedrl.envs.point.tasks import (
    ARENA_HALF_WIDTH,
    CIRCLE_RADIUS,
    CIRCLE_START_HALF_WIDTH,
    GOAL_BONUS,
    GOAL_MIN_DISTANCE,
    GOAL_RADIUS,
    MAX_EPISODE_STEPS,
    N_OBSTACLES,
    OBSTACLE_GAP,
    OBSTACLE_RADIUS,
    PROGRESS_SCALE,
    REACH_GUIDE_CLEARANCE,
    START_CLEARANCE,
    WALL_X,
)
from guidedrl.jaxenvs.base import JaxEnv, JaxGuide, Transition

# -- the robot's model, as point_model builds it --------------------------------------------------
INERTIA = 0.4 * ROBOT_MASS * ROBOT_RADIUS**2
TURN_GEAR = 1.0 / MAX_TURN_RATE
TURN_KV = INERTIA / (TURN_TIME_CONSTANT * TURN_GEAR**2)
SLIDE_INVWEIGHT = 1.0 / ROBOT_MASS
"""MuJoCo's ``dof_invweight0`` of a slide joint: the constraint's diagonal approximation."""
ARENA_REACH = ARENA_HALF_WIDTH - ROBOT_RADIUS
"""PointReach's joint range is [-ARENA_REACH, ARENA_REACH] on x and y."""

# MuJoCo's default solref (timeconst, dampratio) and solimp (dmin, dmax, width, midpoint, power)
_TIMECONST = max(0.02, 2 * TIMESTEP)  # refsafe: no shorter than two steps
_DAMPRATIO = 1.0
_DMIN, _DMAX, _WIDTH, _MIDPOINT, _POWER = 0.9, 0.95, 0.001, 0.5, 2.0
_LIMIT_STIFFNESS = 1.0 / (_DMAX * _DMAX * _TIMECONST * _TIMECONST * _DAMPRATIO * _DAMPRATIO)
_LIMIT_DAMPING = 2.0 / (_DMAX * _TIMECONST)
_MINVAL = 1e-15  # mjMINVAL

# 2π, the time step and the arena's limit in two parts, a float32 and the rest, for sums exact to float64's
# round-off in float32 (Cody and Waite)
_TWO_PI_HIGH = float(np.float32(2 * math.pi))
_TWO_PI_LOW = 2 * math.pi - _TWO_PI_HIGH
_TIMESTEP_HIGH = float(np.float32(TIMESTEP))
_TIMESTEP_LOW = TIMESTEP - _TIMESTEP_HIGH
_ARENA_REACH_HIGH = float(np.float32(ARENA_REACH))
_ARENA_REACH_LOW = ARENA_REACH - _ARENA_REACH_HIGH

_GOAL_CANDIDATES = 8
"""Goals drawn at once per rejection round (the first acceptable one is kept: the same
distribution as drawing them one at a time)."""
_OBSTACLE_TRIES = 1000
"""Obstacle candidates before the layout is drawn again (as sample_reach_layout)."""
_OBSTACLE_CHUNK = 5
"""Obstacle candidates drawn per loop round (divides _OBSTACLE_TRIES)."""


def _impedance(distance: jax.Array) -> jax.Array:
    """MuJoCo's impedance imp(|pos|) of the default solimp."""
    x = distance / _WIDTH
    rising = x**_POWER / _MIDPOINT ** (_POWER - 1)
    falling = 1.0 - (1.0 - x) ** _POWER / (1.0 - _MIDPOINT) ** (_POWER - 1)
    imp = jnp.clip(_DMIN + jnp.where(x < _MIDPOINT, rising, falling) * (_DMAX - _DMIN), _DMIN, _DMAX)
    return jnp.where(x > 1.0, _DMAX, imp)


def _limit_force(xy: jax.Array, xy_residual: jax.Array, velocity: jax.Array, force: jax.Array) -> jax.Array:
    """``qfrc_constraint`` on the slides from the arena's joint limits, given the smooth force."""
    # xy ± the limit's float32 part is exact near the limit: the distance keeps all its digits
    below = (xy + _ARENA_REACH_HIGH) + (xy_residual + _ARENA_REACH_LOW)
    above = (_ARENA_REACH_HIGH - xy) + (_ARENA_REACH_LOW - xy_residual)
    pos = jnp.minimum(below, above)  # negative: past the limit
    jacobian = jnp.where(below < above, 1.0, -1.0)
    imp = _impedance(jnp.abs(pos))
    aref = -_LIMIT_DAMPING * jacobian * velocity - _LIMIT_STIFFNESS * imp * pos
    regulariser = jnp.maximum(SLIDE_INVWEIGHT * (1.0 - imp) / imp, _MINVAL)
    unconstrained = jacobian * force / ROBOT_MASS - aref  # J·qacc_smooth - aref
    push = jnp.where((pos < 0.0) & (unconstrained < 0.0), -unconstrained / (regulariser + 1.0 / ROBOT_MASS), 0.0)
    return jacobian * push


def _two_sum(a: jax.Array, b: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """(a + b rounded, its rounding error) exactly (Knuth's TwoSum)."""
    total = a + b
    b_part = total - a
    return total, (a - (total - b_part)) + (b - b_part)


def _split(a: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """a as high + low halves of its significand (Veltkamp)."""
    scaled = (4097.0 if a.dtype == jnp.float32 else 134217729.0) * a  # 2^12 + 1, 2^27 + 1
    high = scaled - (scaled - a)
    return high, a - high


def _two_product(a: jax.Array, b: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """(a·b rounded, its rounding error) exactly (Dekker's TwoProduct, without a fused multiply-add)."""
    product = a * b
    (a_high, a_low), (b_high, b_low) = _split(a), _split(b)
    return product, ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low


class RobotState(NamedTuple):
    """The robot's MuJoCo state; the position is qpos + qpos_residual and the velocity qvel +
    qvel_residual, each residual the part below the other's round-off (compensated summation:
    over thousands of steps of 5 substeps, float32's rounding of ``qvel += dt·qacc`` and
    ``qpos += dt·qvel`` would otherwise add up, the heading's turning into position along the
    way). The heading is kept in [-π, π]."""

    qpos: jax.Array  # (3,) x, y, heading
    qvel: jax.Array  # (3,) u, v, turn rate (world frame)
    qpos_residual: jax.Array  # (3,)
    qvel_residual: jax.Array  # (3,)


def robot_at_rest(xy: jax.Array, heading: jax.Array) -> RobotState:
    """The robot at ``xy`` facing ``heading`` (a scalar), at rest."""
    qpos = jnp.concatenate([xy, jnp.reshape(heading, (1,))])
    zeros = jnp.zeros_like(qpos)
    return RobotState(qpos, zeros, zeros, zeros)


def _substep(robot: RobotState, ctrl: jax.Array, limited: bool) -> RobotState:
    """One MuJoCo step of TIMESTEP with the implicitfast integrator (module docstring)."""
    qpos, qvel, qvel_residual = robot.qpos, robot.qvel, robot.qvel_residual
    # the residuals enter the forces too: near an equilibrium (top speed, a held turn rate) a
    # force of the rounded velocity alone is zero, and the residual would drift on uncorrected
    heading, heading_residual = qpos[2], robot.qpos_residual[2]
    cos, sin = jnp.cos(heading), jnp.sin(heading)
    direction = jnp.stack([cos - sin * heading_residual, sin + cos * heading_residual])
    force = (FORWARD_FORCE * ctrl[0] * direction - LINEAR_DAMPING * qvel[:2]) - LINEAR_DAMPING * qvel_residual[:2]
    torque = TURN_GEAR * TURN_KV * ((ctrl[1] - TURN_GEAR * qvel[2]) - TURN_GEAR * qvel_residual[2])
    if limited:
        force = force + _limit_force(qpos[:2], robot.qpos_residual[:2], qvel[:2], force)
    acceleration = jnp.concatenate([
        force / (ROBOT_MASS + TIMESTEP * LINEAR_DAMPING),
        (torque / (INERTIA + TIMESTEP * TURN_GEAR * TURN_GEAR * TURN_KV))[None],
    ])
    qvel, qvel_residual = _two_sum(qvel, TIMESTEP * acceleration + qvel_residual)
    # dt·qvel exactly: at a constant velocity each rounding error would be the same, and add up
    # (float32's 0.004 alone is 5e-8 too long)
    increment, increment_error = _two_product(jnp.full_like(qvel, _TIMESTEP_HIGH), qvel)
    qpos, qpos_error = _two_sum(qpos, increment)
    qpos_residual = robot.qpos_residual + (
        qpos_error + increment_error + _TIMESTEP_HIGH * qvel_residual + _TIMESTEP_LOW * qvel)
    qpos, qpos_residual = _two_sum(qpos, qpos_residual)
    return RobotState(qpos, qvel, qpos_residual, qvel_residual)


def simulate(robot: RobotState, action: jax.Array, limited: bool) -> RobotState:
    """The robot after one env step (N_SUBSTEPS physics steps) under ``action`` clipped to
    [-1, 1] (the actuators' ctrlrange); ``limited``: PointReach's arena limits."""
    ctrl = jnp.clip(action, -1.0, 1.0).astype(robot.qpos.dtype)
    for _ in range(N_SUBSTEPS):
        robot = _substep(robot, ctrl, limited)
    turns = jnp.round(robot.qpos[2] / _TWO_PI_HIGH)
    heading = robot.qpos[2] - turns * _TWO_PI_HIGH  # exact (Sterbenz): the rest of 2π goes to the residual
    heading, heading_residual = _two_sum(heading, robot.qpos_residual[2] - turns * _TWO_PI_LOW)
    return robot._replace(qpos=robot.qpos.at[2].set(heading),
                          qpos_residual=robot.qpos_residual.at[2].set(heading_residual))


def _rotate_into_robot_frame(vectors: jax.Array, heading: jax.Array) -> jax.Array:
    """World-frame vectors (..., 2) as (forward, left) of a robot with ``heading``."""
    cos, sin = jnp.cos(heading), jnp.sin(heading)
    return jnp.stack([cos * vectors[..., 0] + sin * vectors[..., 1],
                      -sin * vectors[..., 0] + cos * vectors[..., 1]], axis=-1)


def _step_count(steps: jax.Array) -> Tuple[jax.Array, jax.Array]:
    steps = steps + 1
    return steps, steps >= MAX_EPISODE_STEPS


# -- PointCircle ---------------------------------------------------------------------------------


class CircleState(NamedTuple):
    robot: RobotState
    steps: jax.Array  # () int32, steps taken this episode


def circle_observation(qpos: jax.Array, qvel: jax.Array) -> jax.Array:
    """``[x, y, u, v, cos θ, sin θ, ω]`` (float32), as :func:`guidedrl.envs.point.tasks.circle_observation`."""
    heading = qpos[2]
    return jnp.concatenate([qpos[:2], qvel[:2], jnp.stack([jnp.cos(heading), jnp.sin(heading)]),
                            qvel[2:]]).astype(jnp.float32)


def circle_reward(qpos: jax.Array, qvel: jax.Array) -> jax.Array:
    """The counter-clockwise tangential speed divided by 1 + |r - R|, as
    :func:`guidedrl.envs.point.tasks.circle_reward`."""
    x, y, u, v = qpos[0], qpos[1], qvel[0], qvel[1]
    r = jnp.hypot(x, y)
    tangential = (x * v - y * u) / jnp.maximum(r, 1e-6)
    return tangential / (1.0 + jnp.abs(r - CIRCLE_RADIUS))


@dataclasses.dataclass(frozen=True, eq=False)
class PointCircleJax(JaxEnv):
    """PointCircle-v0 (:class:`~guidedrl.envs.point.tasks.PointCircleEnv`) in JAX: the same
    observation, reward, catastrophe (crossing a wall, |x| > WALL_X, which also terminates) and
    start distribution; truncated after MAX_EPISODE_STEPS as the registration's TimeLimit."""

    name: str = "jax/PointCircle-v0"
    obs_dim: int = 7
    action_dim: int = 2
    action_low: Tuple[float, ...] = (-1.0, -1.0)
    action_high: Tuple[float, ...] = (1.0, 1.0)
    max_episode_steps: int = MAX_EPISODE_STEPS
    reports_catastrophes: bool = True

    def reset(self, key: jax.Array) -> Tuple[jax.Array, CircleState]:
        xy_key, heading_key = jax.random.split(key)
        xy = jax.random.uniform(xy_key, (2,), minval=-CIRCLE_START_HALF_WIDTH, maxval=CIRCLE_START_HALF_WIDTH)
        heading = jax.random.uniform(heading_key, (), minval=-jnp.pi, maxval=jnp.pi)
        robot = robot_at_rest(xy, heading)
        return circle_observation(robot.qpos, robot.qvel), CircleState(robot, jnp.zeros((), jnp.int32))

    def step(self, key: jax.Array, state: CircleState, action: jax.Array) -> Transition:
        robot = simulate(state.robot, action, limited=False)
        catastrophe = WALL_X - jnp.abs(robot.qpos[0]) < 0.0
        steps, truncated = _step_count(state.steps)
        return Transition(circle_observation(robot.qpos, robot.qvel), CircleState(robot, steps),
                          circle_reward(robot.qpos, robot.qvel).astype(jnp.float32), catastrophe, truncated,
                          catastrophe.astype(jnp.float32))


# -- PointReach ----------------------------------------------------------------------------------


class ReachState(NamedTuple):
    robot: RobotState
    goal: jax.Array  # (2,) world position
    obstacles: jax.Array  # (N_OBSTACLES, 2) world positions
    steps: jax.Array  # () int32, steps taken this episode


def reach_observation(qpos: jax.Array, qvel: jax.Array, goal: jax.Array, obstacles: jax.Array) -> jax.Array:
    """PointReach's 19 numbers (float32), as :func:`guidedrl.envs.point.tasks.reach_observation`."""
    xy, heading = qpos[:2], qpos[2]
    return jnp.concatenate([
        _rotate_into_robot_frame(goal - xy, heading), _rotate_into_robot_frame(qvel[:2], heading), qvel[2:],
        xy, jnp.stack([jnp.cos(heading), jnp.sin(heading)]),
        _rotate_into_robot_frame(obstacles - xy, heading).reshape(-1),
    ]).astype(jnp.float32)


def obstacle_clearance(xy: jax.Array, obstacles: jax.Array) -> jax.Array:
    """Distance between the robot's surface and the nearest obstacle's (..., from xy (..., 2))."""
    offsets = obstacles - xy[..., None, :]
    nearest = jnp.min(jnp.sum(offsets * offsets, axis=-1), axis=-1)
    return jnp.sqrt(nearest) - OBSTACLE_RADIUS - ROBOT_RADIUS


def goal_progress(previous_xy: jax.Array, xy: jax.Array, goal: jax.Array) -> jax.Array:
    """|previous_xy - goal| - |xy - goal|, written as the motion's dot product with the sum of
    both offsets over the sum of both distances: in float32 the plain difference of two distances
    near 1 m loses the digits a 2 cm step needs."""
    before, after = previous_xy - goal, xy - goal
    distance_sum = jnp.linalg.norm(before) + jnp.linalg.norm(after)
    return -jnp.dot(xy - previous_xy, before + after) / jnp.maximum(distance_sum, _MINVAL)


def _uniform_in_arena(key: jax.Array, shape, margin: float, dtype) -> jax.Array:
    return jax.random.uniform(key, shape, dtype, -ARENA_HALF_WIDTH + margin, ARENA_HALF_WIDTH - margin)


def draw_goal(key: jax.Array, xy: jax.Array, obstacles: jax.Array, needed: jax.Array = True) -> jax.Array:
    """A goal uniform in the arena (GOAL_RADIUS inside its edge), at least GOAL_MIN_DISTANCE from
    ``xy`` and with its centre outside every obstacle's guide region (rejection sampling, as
    :func:`guidedrl.envs.point.tasks._draw_goal`); ``obstacles`` may be (0, 2).

    Where ``needed`` is false nothing is drawn (the result is meaningless): a step draws a goal
    only on reaching one, and under ``vmap`` a ``lax.cond`` would draw one on every step."""

    def draw_round(carry):
        round_key, _, _ = carry
        round_key, draw_key = jax.random.split(round_key)
        goals = _uniform_in_arena(draw_key, (_GOAL_CANDIDATES, 2), GOAL_RADIUS, xy.dtype)
        clear = jnp.linalg.norm(goals - xy, axis=-1) >= GOAL_MIN_DISTANCE
        if obstacles.shape[0]:
            clear &= obstacle_clearance(goals, obstacles) >= REACH_GUIDE_CLEARANCE
        first = jnp.argmax(clear)  # the first acceptable candidate, if any
        return round_key, goals[first], clear[first]

    _, goal, _ = jax.lax.while_loop(lambda carry: ~carry[2], draw_round, (key, jnp.zeros(2, xy.dtype), ~jnp.asarray(needed)))
    return goal


def _place_obstacles(key: jax.Array, xy: jax.Array, goal: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """(obstacles (N_OBSTACLES, 2), all placed) from up to _OBSTACLE_TRIES candidates taken in
    turn, each kept when START_CLEARANCE from the start, clear of the goal and OBSTACLE_GAP from
    those kept before it. Candidates come _OBSTACLE_CHUNK at a time (those after the last
    obstacle is placed are ignored: the same layouts as one at a time, in fewer loop rounds)."""

    def try_chunk(carry):
        chunk_key, obstacles, placed, tries = carry
        chunk_key, draw_key = jax.random.split(chunk_key)
        candidates = _uniform_in_arena(draw_key, (_OBSTACLE_CHUNK, 2), OBSTACLE_RADIUS, xy.dtype)
        clear = ((jnp.linalg.norm(candidates - xy, axis=-1) - OBSTACLE_RADIUS - ROBOT_RADIUS >= START_CLEARANCE)
                 & (jnp.linalg.norm(candidates - goal, axis=-1) - OBSTACLE_RADIUS - ROBOT_RADIUS
                    >= REACH_GUIDE_CLEARANCE))
        for candidate, candidate_clear in zip(candidates, clear):  # in turn: each sees those kept before it
            others_gap = jnp.linalg.norm(obstacles - candidate, axis=-1) - 2 * OBSTACLE_RADIUS
            fits = (candidate_clear & (placed < N_OBSTACLES)
                    & jnp.all((others_gap >= OBSTACLE_GAP) | (jnp.arange(N_OBSTACLES) >= placed)))
            obstacles = jnp.where(fits, obstacles.at[placed].set(candidate), obstacles)
            placed = placed + fits
        return chunk_key, obstacles, placed, tries + _OBSTACLE_CHUNK

    carry = (key, jnp.zeros((N_OBSTACLES, 2), xy.dtype), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))
    _, obstacles, placed, _ = jax.lax.while_loop(
        lambda carry: (carry[2] < N_OBSTACLES) & (carry[3] < _OBSTACLE_TRIES), try_chunk, carry)
    return obstacles, placed == N_OBSTACLES


def sample_reach_layout(key: jax.Array) -> Tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(start xy, start heading, goal, obstacles) drawn as
    :func:`guidedrl.envs.point.tasks.sample_reach_layout` draws them (not the same numbers)."""
    dtype = jnp.zeros(()).dtype

    def draw(carry):
        layout_key = carry[0]
        layout_key, start_key, goal_key, obstacles_key = jax.random.split(layout_key, 4)
        reach = ARENA_HALF_WIDTH - ROBOT_RADIUS - 0.2  # not against the arena's edge
        start = jax.random.uniform(start_key, (3,), dtype, jnp.array([-reach, -reach, -jnp.pi]),
                                   jnp.array([reach, reach, jnp.pi]))
        xy, heading = start[:2], start[2]
        goal = draw_goal(goal_key, xy, jnp.zeros((0, 2), dtype))
        obstacles, placed = _place_obstacles(obstacles_key, xy, goal)
        return layout_key, xy, heading, goal, obstacles, placed

    empty = (jnp.zeros(2, dtype), jnp.zeros((), dtype), jnp.zeros(2, dtype), jnp.zeros((N_OBSTACLES, 2), dtype))
    _, xy, heading, goal, obstacles, _ = jax.lax.while_loop(
        lambda carry: ~carry[-1], draw, (key,) + empty + (jnp.zeros((), bool),))
    return xy, heading, goal, obstacles


@dataclasses.dataclass(frozen=True, eq=False)
class PointReachJax(JaxEnv):
    """PointReach-v0 (:class:`~guidedrl.envs.point.tasks.PointReachEnv`) in JAX: the same
    arena limits, observation, reward (progress towards the goal, a bonus and a new goal on
    reaching it), catastrophe (touching an obstacle, which also terminates) and layout
    distribution; truncated after MAX_EPISODE_STEPS as the registration's TimeLimit."""

    name: str = "jax/PointReach-v0"
    obs_dim: int = 9 + 2 * N_OBSTACLES
    action_dim: int = 2
    action_low: Tuple[float, ...] = (-1.0, -1.0)
    action_high: Tuple[float, ...] = (1.0, 1.0)
    max_episode_steps: int = MAX_EPISODE_STEPS
    reports_catastrophes: bool = True

    def reset(self, key: jax.Array) -> Tuple[jax.Array, ReachState]:
        xy, heading, goal, obstacles = sample_reach_layout(key)
        robot = robot_at_rest(xy, heading)
        state = ReachState(robot, goal, obstacles, jnp.zeros((), jnp.int32))
        return reach_observation(robot.qpos, robot.qvel, goal, obstacles), state

    def step(self, key: jax.Array, state: ReachState, action: jax.Array) -> Transition:
        robot = simulate(state.robot, action, limited=True)
        xy = robot.qpos[:2]
        goal_reached = jnp.linalg.norm(xy - state.goal) < GOAL_RADIUS
        progress = goal_progress(state.robot.qpos[:2], xy, state.goal)
        reward = PROGRESS_SCALE * progress + jnp.where(goal_reached, GOAL_BONUS, 0.0)
        goal = jnp.where(goal_reached, draw_goal(key, xy, state.obstacles, needed=goal_reached), state.goal)
        catastrophe = obstacle_clearance(xy, state.obstacles) < 0.0
        steps, truncated = _step_count(state.steps)
        return Transition(reach_observation(robot.qpos, robot.qvel, goal, state.obstacles),
                          ReachState(robot, goal, state.obstacles, steps), reward.astype(jnp.float32),
                          catastrophe, truncated, catastrophe.astype(jnp.float32))


POINT_TWINS = {"PointCircle-v0": PointCircleJax, "PointReach-v0": PointReachJax}
"""The twins by the name of the task they copy (registered as ``jax/<name>``)."""


# -- the guides: guidedrl.envs.point.guides on one observation -----------------------------------


def repulsive_reflex(away_forward: jax.Array, away_left: jax.Array) -> jax.Array:
    """(thrust, turn) pushing the robot along the unit direction (away_forward, away_left) of its
    own frame, as :func:`guidedrl.envs.point.guides.repulsive_reflex`."""
    facing = jnp.where(away_forward < 0.0, -1.0, 1.0)
    axis_error = jnp.arctan2(facing * away_left, facing * away_forward)
    return jnp.stack([jnp.clip(REFLEX_THRUST_GAIN * away_forward, -1.0, 1.0),
                      jnp.clip(REFLEX_TURN_GAIN * axis_error, -1.0, 1.0)])


def _circle_guide(obs: jax.Array) -> Tuple[jax.Array, jax.Array]:
    away_x = jnp.where(obs[0] >= 0.0, -1.0, 1.0)  # away from the nearer wall
    action = repulsive_reflex(away_x * obs[4], -away_x * obs[5])
    return action, (WALL_X - jnp.abs(obs[0]) < CIRCLE_GUIDE_DISTANCE).astype(jnp.float32)


def point_circle_guide_jax() -> JaxGuide:
    """PointCircle-v0's wall reflex (:func:`guidedrl.envs.point.guides.point_circle_guide`),
    λ = 1 within CIRCLE_GUIDE_DISTANCE of the nearer wall (its default region)."""
    return JaxGuide(_circle_guide, name="point-circle-wall-reflex", made_for="PointCircle-v0")


def _reach_guide(obs: jax.Array) -> Tuple[jax.Array, jax.Array]:
    seen = obs[9:].reshape(N_OBSTACLES, 2)
    centre_distance = jnp.linalg.norm(seen, axis=-1)
    nearest = jnp.argmin(centre_distance)
    away = -seen[nearest] / jnp.maximum(centre_distance[nearest], 1e-9)
    clearance = centre_distance[nearest] - OBSTACLE_RADIUS - ROBOT_RADIUS
    return repulsive_reflex(away[0], away[1]), (clearance < REACH_GUIDE_CLEARANCE).astype(jnp.float32)


def point_reach_guide_jax() -> JaxGuide:
    """PointReach-v0's obstacle reflex (:func:`guidedrl.envs.point.guides.point_reach_guide`),
    λ = 1 where the nearest obstacle's clearance is below REACH_GUIDE_CLEARANCE (its default region)."""
    return JaxGuide(_reach_guide, name="point-reach-obstacle-reflex", made_for="PointReach-v0")

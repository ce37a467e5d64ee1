"""A point robot on MuJoCo, two tasks for it, and their verified repulsive guides.

**The robot** is Safety Gym's "Point", rebuilt on the ``mujoco`` bindings (safety-gymnasium pins
gymnasium 0.28, see docs/BENCHMARK.md): a sphere of radius ``ROBOT_RADIUS`` on the plane with joints
slide-x, slide-y and hinge-z, and two actuators, both driven by actions in [-1, 1]:

- ``forward``: a force of up to ``FORWARD_FORCE`` along the robot's heading (a motor on the
  robot's site). The slide joints are damped, so full thrust settles at the terminal speed
  ``MAX_SPEED = FORWARD_FORCE / LINEAR_DAMPING`` = 1 m/s with a time constant of
  ``ROBOT_MASS / LINEAR_DAMPING`` = 0.25 s. Damping is isotropic (as Safety Gym's floor
  friction): after a turn the robot keeps sliding the old way while the new thrust builds.
  No thrust profile can exceed ``MAX_SPEED``: d|v|²/dt = 2 v·(F h - c v)/m <= 2|v|(F - c|v|)/m.
- ``turn``: a velocity servo on the hinge, the action times ``MAX_TURN_RATE`` = 8 rad/s being
  the target turn rate, reached with a time constant of ``TURN_TIME_CONSTANT`` = 0.05 s (a
  quarter turn takes about 0.25 s).

One env step is ``N_SUBSTEPS`` physics steps of ``TIMESTEP``: ``CONTROL_DT`` = 0.02 s.
Contacts and gravity are off: walls and obstacles are virtual, detected geometrically from the
robot's centre as in Safety Gym's sigwalls and hazards. Nothing is rendered.

**The tasks** (to be registered as ``guidedrl/PointCircle-v0`` and ``guidedrl/PointReach-v0``
with ``max_episode_steps=MAX_EPISODE_STEPS``): :class:`PointCircleEnv` and :class:`PointReachEnv`.
Both put ``catastrophe`` (bool) and ``cost`` (float, 1.0 on a catastrophe) in every step's info
and end the episode with ``terminated=True`` on a catastrophe; neither has a time limit of its
own.

**The guides** (:func:`point_circle_guide`, :func:`point_reach_guide`) are one scripted reflex,
:func:`repulsive_reflex`, given the direction away from the danger: it turns the robot's axis
onto that direction (facing away, or facing the danger to back away, whichever is the nearer
turn) and thrusts so that the force never points at the danger. λ(s) = 1 where the distance to
the danger is below ``CIRCLE_GUIDE_DISTANCE`` = 0.3 (to the nearer wall: |x| > 0.825) or
``REACH_GUIDE_CLEARANCE`` = 0.3 (between the robot's and the nearest obstacle's surfaces).

**Verification** (:func:`verify_region`): the reflex alone is simulated, in MuJoCo, from many
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

import math
from typing import Callable, Dict, Optional, Tuple, Type, Union

import gymnasium as gym
import mujoco
import numpy as np
from mujoco import rollout

from guidedrl.envs.mj import set_control
from guidedrl.errors import EnvError
from guidedrl.guides.base import Guide
from guidedrl.guides.regions import near

# -- the robot ----------------------------------------------------------------------------------
ROBOT_RADIUS = 0.1
"""Radius of the robot's sphere (m); obstacles are touched at centre distance below it plus theirs."""
ROBOT_MASS = 1.0
LINEAR_DAMPING = 4.0
"""Damping of the slide joints (N s/m)."""
FORWARD_FORCE = 4.0
"""Thrust along the heading at action 1 (N)."""
MAX_SPEED = FORWARD_FORCE / LINEAR_DAMPING
"""Terminal speed under full thrust (m/s); :func:`measure_top_speeds` measures it in simulation."""
MAX_TURN_RATE = 8.0
"""Turn rate (rad/s) the servo holds at action ±1."""
TURN_TIME_CONSTANT = 0.05
"""Time constant (s) of the turn-rate servo."""
TIMESTEP = 0.004
"""Physics step (s): the turn servo's time constant spans 12 of them; 0.002 s would double the
cost of :func:`verify_region` for no visible change (worst stop 0.1405 m instead of 0.1400 m)."""
N_SUBSTEPS = 5
CONTROL_DT = TIMESTEP * N_SUBSTEPS
MAX_EPISODE_STEPS = 500
"""Proposed ``max_episode_steps`` for both tasks (10 s; Safety Gym's tasks also last 500 steps)."""

# -- PointCircle --------------------------------------------------------------------------------
CIRCLE_RADIUS = 1.5
"""Radius R of the circle to run along (Safety Gym's)."""
WALL_X = 1.125
"""The walls stand at x = ±WALL_X (Safety Gym's sigwalls); crossing one is a catastrophe."""
CIRCLE_START_HALF_WIDTH = 0.5
"""The robot starts at rest, uniformly in [-0.5, 0.5]², with a uniform heading."""
CIRCLE_GUIDE_DISTANCE = 0.3
"""λ = 1 where the distance to the nearer wall, WALL_X - |x|, is below this."""
CIRCLE_GUIDE_X = WALL_X - CIRCLE_GUIDE_DISTANCE
"""λ = 1 where |x| > CIRCLE_GUIDE_X."""

# -- PointReach ---------------------------------------------------------------------------------
ARENA_HALF_WIDTH = 2.0
"""The arena is [-2, 2]²; joint limits stop the robot's centre ROBOT_RADIUS inside its edge."""
N_OBSTACLES = 5
OBSTACLE_RADIUS = 0.25
GOAL_RADIUS = 0.3
"""The goal is reached when the robot's centre is within this distance of it."""
GOAL_MIN_DISTANCE = 1.0
"""A new goal is drawn at least this far from the robot."""
OBSTACLE_GAP = 0.6
"""Smallest distance between two obstacles' surfaces."""
PROGRESS_SCALE = 10.0
"""Reward per metre of progress towards the goal."""
GOAL_BONUS = 5.0
"""Reward for reaching the goal (a new goal is then drawn and the episode goes on)."""
REACH_GUIDE_CLEARANCE = 0.3
"""λ = 1 where the clearance to the nearest obstacle (centre distance minus both radii) is below this."""
START_CLEARANCE = REACH_GUIDE_CLEARANCE + 0.1
"""Obstacles are placed at least this clearance from the robot's start, outside the guide's region."""

# -- the reflex and its verification -------------------------------------------------------------
REFLEX_TURN_GAIN = 3.0
"""Turn action per radian between the robot's axis and the direction away from the danger."""
REFLEX_THRUST_GAIN = 3.0
"""Thrust action per unit of cos(heading, away direction)."""
VERIFIED_DEPTH = 0.1
"""Verified start states lie within this distance inside the region's edge (5 steps at top speed)."""
VERIFY_HORIZON = 200
"""Steps (4 s) the reflex alone must keep every verified start state out of the catastrophe."""

_XML = """
<mujoco model="guidedrl-point">
  <option timestep="{timestep}" integrator="implicitfast" gravity="0 0 0">
    <flag contact="disable"/>
  </option>
  <worldbody>
    <body name="robot" pos="0 0 {radius}">
      <joint name="x" type="slide" axis="1 0 0" damping="{damping}" {limits}/>
      <joint name="y" type="slide" axis="0 1 0" damping="{damping}" {limits}/>
      <joint name="heading" type="hinge" axis="0 0 1"/>
      <geom name="robot" type="sphere" size="{radius}" mass="{mass}"/>
      <site name="robot"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="forward" site="robot" gear="{force} 0 0 0 0 0" ctrlrange="-1 1"/>
    <velocity name="turn" joint="heading" gear="{turn_gear}" kv="{turn_kv}" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


def point_model(arena_half_width: Optional[float] = None) -> mujoco.MjModel:
    """The robot's MjModel; with ``arena_half_width``, joint limits keep it inside that square.

    The turn servo's gear g = 1/MAX_TURN_RATE makes action a target a/g rad/s; its torque
    g·kv·(a - g·ω) = g²kv·(a/g - ω) gives the time constant I/(g²kv) = TURN_TIME_CONSTANT.
    """
    inertia = 0.4 * ROBOT_MASS * ROBOT_RADIUS**2  # solid sphere about its axis
    turn_gear = 1.0 / MAX_TURN_RATE
    limits = ""
    if arena_half_width is not None:
        reach = arena_half_width - ROBOT_RADIUS
        limits = f'limited="true" range="{-reach} {reach}"'
    xml = _XML.format(
        timestep=TIMESTEP, radius=ROBOT_RADIUS, mass=ROBOT_MASS, damping=LINEAR_DAMPING,
        force=FORWARD_FORCE, turn_gear=turn_gear, turn_kv=inertia / (TURN_TIME_CONSTANT * turn_gear**2),
        limits=limits,
    )
    return mujoco.MjModel.from_xml_string(xml)


def _rotate_into_robot_frame(vectors: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """World-frame vectors (..., [k,] 2) seen from a robot with the given heading (...)."""
    cos, sin = np.cos(heading), np.sin(heading)
    if vectors.ndim > np.ndim(heading) + 1:  # a list of k vectors per robot
        cos, sin = cos[..., None], sin[..., None]
    forward = cos * vectors[..., 0] + sin * vectors[..., 1]
    left = -sin * vectors[..., 0] + cos * vectors[..., 1]
    return np.stack([forward, left], axis=-1)


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


# -- the envs -----------------------------------------------------------------------------------


class _PointEnv(gym.Env):
    """What both tasks share: the robot's model and data, the action space, ``set_state``.

    A step computes its observation and reward on Python floats, the one-state form of the
    vectorised functions (:func:`circle_observation`, :func:`circle_reward`,
    :func:`reach_observation`, :func:`obstacle_clearance`) with the same floating-point
    operations in the same order, so the same numbers bit for bit (tests/envs/test_point_step.py).
    Calling NumPy on a handful of entries per step cost more than the physics: profiled, a
    PointCircle step took 21 µs and a PointReach step 47 µs around 7 µs of ``mj_step``.
    """

    metadata = {"render_modes": []}
    arena_half_width: Optional[float] = None
    n_sub_steps = N_SUBSTEPS
    """Physics steps per env step (as :attr:`guidedrl.envs.mj.SuiteTask.n_sub_steps`)."""
    _VIEWS: Tuple[str, ...] = ("_qpos", "_qvel", "_ctrl")
    """The attributes :meth:`_bind_views` sets: views into ``data``, made again after a copy."""

    def __init__(self, render_mode: Optional[str] = None):
        if render_mode is not None:
            raise EnvError(f"{type(self).__name__} renders nothing; got render_mode={render_mode!r}, expected None")
        self.render_mode = None
        self.model = point_model(self.arena_half_width)
        self.data = mujoco.MjData(self.model)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._bind_views()

    def _bind_views(self) -> None:
        """Views into ``data`` that every step reads, made once (the ``data.qpos`` lookup costs)."""
        self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl

    # copy.deepcopy and pickle would bring the views back as arrays detached from the new data
    def __getstate__(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if name not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def set_state(self, qpos, qvel) -> None:
        """Put the robot at qpos = (x, y, heading) with qvel = (u, v, turn rate), world frame."""
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)

    def _reset_robot(self, xy, heading) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.set_state([xy[0], xy[1], heading], [0.0, 0.0, 0.0])

    def _simulate(self, action) -> None:
        set_control(self._ctrl, action)  # np.clip(action, -1, 1), cheaper
        mujoco.mj_step(self.model, self.data, N_SUBSTEPS)


def circle_observation(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """PointCircle's observation, vectorised over leading axes (see :class:`PointCircleEnv`)."""
    heading = qpos[..., 2]
    return np.concatenate(
        [qpos[..., :2], qvel[..., :2], np.stack([np.cos(heading), np.sin(heading)], -1), qvel[..., 2:3]],
        axis=-1,
    ).astype(np.float32)


def circle_wall_distance(qpos: np.ndarray) -> np.ndarray:
    """Distance from the robot's centre to the nearer wall; negative once it has crossed one."""
    return WALL_X - np.abs(qpos[..., 0])


def circle_reward(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Safety Gym's circle reward without its 0.1 factor: the counter-clockwise tangential
    speed (x v - y u)/r, divided by 1 + |r - R|."""
    x, y, u, v = qpos[..., 0], qpos[..., 1], qvel[..., 0], qvel[..., 1]
    r = np.hypot(x, y)
    tangential = (x * v - y * u) / np.maximum(r, 1e-6)  # bounded by the speed, also near r = 0
    return tangential / (1.0 + np.abs(r - CIRCLE_RADIUS))


class PointCircleEnv(_PointEnv):
    """Run counter-clockwise along the circle of radius R = 1.5 about the origin, between two
    walls at x = ±1.125 (Safety Gym's Circle level 1, point robot).

    Observation (float32, 7): ``[x, y, u, v, cos θ, sin θ, ω]`` — position (m) and velocity
    (m/s) in the world frame, heading θ, turn rate ω (rad/s).

    Reward: (x v - y u)/r / (1 + |r - R|), r = |(x, y)|: the tangential speed, discounted off
    the circle. Crossing a wall (|x| > WALL_X) is a catastrophe and ends the episode. The
    robot starts at rest, uniformly in [-0.5, 0.5]² with a uniform heading.
    """

    def __init__(self, render_mode: Optional[str] = None):
        super().__init__(render_mode)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (7,), np.float32)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        xy = self.np_random.uniform(-CIRCLE_START_HALF_WIDTH, CIRCLE_START_HALF_WIDTH, 2)
        self._reset_robot(xy, self.np_random.uniform(-np.pi, np.pi))
        return self._observation(), {}

    def step(self, action):
        self._simulate(action)
        x, y, _ = self._qpos.tolist()
        u, v, _ = self._qvel.tolist()
        catastrophe = WALL_X - abs(x) < 0.0  # circle_wall_distance < 0
        # circle_reward
        r = float(np.hypot(x, y))
        tangential = (x * v - y * u) / max(r, 1e-6)
        reward = tangential / (1.0 + abs(r - CIRCLE_RADIUS))
        return self._observation(), reward, catastrophe, False, {"catastrophe": catastrophe,
                                                                  "cost": float(catastrophe)}

    def _observation(self) -> np.ndarray:
        """circle_observation of the current state."""
        x, y, heading = self._qpos.tolist()
        u, v, turn_rate = self._qvel.tolist()
        return np.array((x, y, u, v, float(np.cos(heading)), float(np.sin(heading)), turn_rate), np.float32)

    # -- for verify_region --
    @staticmethod
    def _region_states(rng: np.random.Generator, n: int, distance: Tuple[float, float], speed: float,
                       turn_rate: float):
        side = rng.choice([-1.0, 1.0], n)
        x = side * (WALL_X - rng.uniform(distance[0], distance[1], n))
        y = rng.uniform(-CIRCLE_RADIUS, CIRCLE_RADIUS, n)
        towards = np.where(side > 0, 0.0, np.pi)
        qpos = np.stack([x, y, rng.uniform(-np.pi, np.pi, n)], axis=1)
        return qpos, _motion_towards(rng, towards, speed, turn_rate), None

    @staticmethod
    def _danger_distance(qpos: np.ndarray, layout) -> np.ndarray:
        return circle_wall_distance(qpos)

    @staticmethod
    def _batch_observation(qpos: np.ndarray, qvel: np.ndarray, layout) -> np.ndarray:
        return circle_observation(qpos, qvel)


def reach_observation(qpos: np.ndarray, qvel: np.ndarray, goal: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    """PointReach's observation, vectorised over leading axes (see :class:`PointReachEnv`);
    ``goal`` is (..., 2), ``obstacles`` (..., N_OBSTACLES, 2), both world positions."""
    xy, heading = qpos[..., :2], qpos[..., 2]
    goal_seen = _rotate_into_robot_frame(goal - xy, heading)
    velocity_seen = _rotate_into_robot_frame(qvel[..., :2], heading)
    obstacles_seen = _rotate_into_robot_frame(obstacles - xy[..., None, :], heading)
    return np.concatenate(
        [goal_seen, velocity_seen, qvel[..., 2:3], xy, np.stack([np.cos(heading), np.sin(heading)], -1),
         obstacles_seen.reshape(*obstacles_seen.shape[:-2], -1)],
        axis=-1,
    ).astype(np.float32)


def obstacle_clearance(xy: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    """Distance between the robot's surface and the nearest obstacle's; negative when touching."""
    centre_distance = np.linalg.norm(obstacles - xy[..., None, :], axis=-1)
    return centre_distance.min(axis=-1) - OBSTACLE_RADIUS - ROBOT_RADIUS


def _uniform_in_arena(rng: np.random.Generator, margin: float) -> np.ndarray:
    return rng.uniform(-ARENA_HALF_WIDTH + margin, ARENA_HALF_WIDTH - margin, 2)


def _goal_is_clear(goal: np.ndarray, xy: np.ndarray, obstacles: np.ndarray) -> bool:
    """Far enough from the robot, and its centre outside every obstacle's guide region."""
    if np.linalg.norm(goal - xy) < GOAL_MIN_DISTANCE:
        return False
    return len(obstacles) == 0 or obstacle_clearance(goal, obstacles) >= REACH_GUIDE_CLEARANCE


def _draw_goal(rng: np.random.Generator, xy: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    while True:
        goal = _uniform_in_arena(rng, GOAL_RADIUS)
        if _goal_is_clear(goal, xy, obstacles):
            return goal


def sample_reach_layout(rng: np.random.Generator):
    """(start xy, start heading, goal, obstacles (N_OBSTACLES, 2)) drawn from ``rng``.

    The start is uniform in the arena, the goal uniform at least GOAL_MIN_DISTANCE away, each
    obstacle uniform (rejection sampling) at least START_CLEARANCE from the start, clear of
    the goal (its centre outside the obstacle's guide region) and OBSTACLE_GAP from the others.
    """
    while True:
        xy = _uniform_in_arena(rng, ROBOT_RADIUS + 0.2)  # not against the arena's edge
        heading = rng.uniform(-np.pi, np.pi)
        goal = _draw_goal(rng, xy, np.zeros((0, 2)))
        obstacles = []
        for _ in range(1000):
            candidate = _uniform_in_arena(rng, OBSTACLE_RADIUS)
            surface_gap = np.linalg.norm(candidate - xy) - OBSTACLE_RADIUS - ROBOT_RADIUS
            goal_clearance = np.linalg.norm(candidate - goal) - OBSTACLE_RADIUS - ROBOT_RADIUS
            others_gap = [np.linalg.norm(candidate - other) - 2 * OBSTACLE_RADIUS for other in obstacles]
            if (surface_gap >= START_CLEARANCE and goal_clearance >= REACH_GUIDE_CLEARANCE
                    and all(gap >= OBSTACLE_GAP for gap in others_gap)):
                obstacles.append(candidate)
                if len(obstacles) == N_OBSTACLES:
                    return xy, heading, goal, np.array(obstacles)
        # rare: the first obstacles left no room; draw the whole layout again


class PointReachEnv(_PointEnv):
    """Reach goals among circular obstacles (Safety Gym's Goal task with hazards, point robot).

    The arena is [-2, 2]², closed by joint limits (the robot stops at its edge: no catastrophe,
    no penalty). Each episode draws a start, a goal and N_OBSTACLES = 5 obstacles of radius 0.25
    (:func:`sample_reach_layout`). Reward: PROGRESS_SCALE (10) per metre of progress towards the
    goal, plus GOAL_BONUS (5) on reaching it (centre within GOAL_RADIUS = 0.3), after which a new
    goal is drawn and the episode goes on, as in Safety Gym. Touching an obstacle (centre
    distance below ROBOT_RADIUS + OBSTACLE_RADIUS) is a catastrophe and ends the episode.

    Observation (float32, 9 + 2·N_OBSTACLES = 19), robot-frame vectors as (forward, left):
    ``[goal (2), velocity (2), ω, x, y, cos θ, sin θ, obstacle_1 (2), ..., obstacle_5 (2)]`` —
    the goal's and each obstacle's centre relative to the robot in its frame (m), its velocity in
    its frame (m/s), its turn rate (rad/s), its world position and heading (the arena's edge is
    fixed in the world). Obstacles keep their order within an episode.
    """

    arena_half_width = ARENA_HALF_WIDTH
    _VIEWS = _PointEnv._VIEWS + ("_xy",)

    def __init__(self, render_mode: Optional[str] = None):
        super().__init__(render_mode)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (9 + 2 * N_OBSTACLES,), np.float32)
        self.goal = np.zeros(2)
        self.obstacles = np.zeros((N_OBSTACLES, 2))
        self._goal_offset = np.empty(2)

    def _bind_views(self) -> None:
        super()._bind_views()
        self._xy = self.data.qpos[:2]

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        xy, heading, self.goal, self.obstacles = sample_reach_layout(self.np_random)
        self._reset_robot(xy, heading)
        self._goal_distance = float(np.linalg.norm(self.goal - xy))
        return self._observation(), {}

    def step(self, action):
        self._simulate(action)
        goal_distance = self._distance_to_goal()
        reward = PROGRESS_SCALE * (self._goal_distance - goal_distance)
        goal_reached = goal_distance < GOAL_RADIUS
        if goal_reached:
            reward += GOAL_BONUS
            self.goal = _draw_goal(self.np_random, self._xy.copy(), self.obstacles)
            goal_distance = self._distance_to_goal()
        self._goal_distance = goal_distance
        # obstacle_clearance < 0 (the square root of the least squared distance is the least distance)
        x, y = self._xy.tolist()
        nearest = min((ox - x) * (ox - x) + (oy - y) * (oy - y) for ox, oy in self.obstacles.tolist())
        catastrophe = math.sqrt(nearest) - OBSTACLE_RADIUS - ROBOT_RADIUS < 0.0
        info = {"catastrophe": catastrophe, "cost": float(catastrophe), "goal_reached": goal_reached}
        return self._observation(), reward, catastrophe, False, info

    def _distance_to_goal(self) -> float:
        """np.linalg.norm(goal - xy), with its arithmetic (the square root of a BLAS dot product)."""
        offset = np.subtract(self.goal, self._xy, out=self._goal_offset)
        return math.sqrt(offset.dot(offset))

    def _observation(self) -> np.ndarray:
        """reach_observation of the current state."""
        x, y, heading = self._qpos.tolist()
        u, v, turn_rate = self._qvel.tolist()
        cos, sin = float(np.cos(heading)), float(np.sin(heading))
        goal_x, goal_y = self.goal.tolist()
        dx, dy = goal_x - x, goal_y - y
        seen = [cos * dx + sin * dy, -sin * dx + cos * dy, cos * u + sin * v, -sin * u + cos * v,
                turn_rate, x, y, cos, sin]
        for obstacle_x, obstacle_y in self.obstacles.tolist():
            dx, dy = obstacle_x - x, obstacle_y - y
            seen += (cos * dx + sin * dy, -sin * dx + cos * dy)
        return np.array(seen, np.float32)

    # -- for verify_region --
    @staticmethod
    def _region_states(rng: np.random.Generator, n: int, distance: Tuple[float, float], speed: float,
                       turn_rate: float):
        """Around an obstacle of a fresh layout, at a clearance in ``distance`` from it and no
        less from any other, inside the arena's limits; moving towards that obstacle."""
        qpos, goals, layouts, towards = [], [], [], []
        reach = ARENA_HALF_WIDTH - ROBOT_RADIUS
        while len(qpos) < n:
            _, _, goal, obstacles = sample_reach_layout(rng)
            centre = obstacles[rng.integers(N_OBSTACLES)]
            bearing = rng.uniform(-np.pi, np.pi)
            gap = rng.uniform(distance[0], distance[1])
            xy = centre + (OBSTACLE_RADIUS + ROBOT_RADIUS + gap) * np.array([np.cos(bearing), np.sin(bearing)])
            if np.any(np.abs(xy) > reach) or obstacle_clearance(xy, obstacles) < distance[0]:
                continue
            qpos.append([xy[0], xy[1], rng.uniform(-np.pi, np.pi)])
            goals.append(goal)
            layouts.append(obstacles)
            towards.append(bearing + np.pi)
        qvel = _motion_towards(rng, np.array(towards), speed, turn_rate)
        return np.array(qpos), qvel, (np.array(goals), np.array(layouts))

    @staticmethod
    def _danger_distance(qpos: np.ndarray, layout) -> np.ndarray:
        return obstacle_clearance(qpos[..., :2], layout[1])

    @staticmethod
    def _batch_observation(qpos: np.ndarray, qvel: np.ndarray, layout) -> np.ndarray:
        return reach_observation(qpos, qvel, layout[0], layout[1])


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

_TASKS: Dict[str, Tuple[Type[_PointEnv], Callable[[np.ndarray], np.ndarray], float]] = {
    "PointCircle-v0": (PointCircleEnv, circle_guide_policy, CIRCLE_GUIDE_DISTANCE),
    "PointReach-v0": (PointReachEnv, reach_guide_policy, REACH_GUIDE_CLEARANCE),
}


def _motion_towards(rng: np.random.Generator, towards: np.ndarray, speed: float, turn_rate: float) -> np.ndarray:
    """qvel (n, 3): half the states at ``speed`` straight along ``towards`` (an angle), the
    rest slower and up to 90° off it; turn rates ±turn_rate for half, uniform for the rest."""
    n = len(towards)
    straight = rng.random(n) < 0.5
    magnitude = np.where(straight, speed, rng.uniform(0.0, speed, n))
    angle = towards + np.where(straight, 0.0, rng.uniform(-np.pi / 2, np.pi / 2, n))
    extreme = rng.random(n) < 0.5
    omega = np.where(extreme, rng.choice([-1.0, 1.0], n) * turn_rate, rng.uniform(-turn_rate, turn_rate, n))
    return np.stack([magnitude * np.cos(angle), magnitude * np.sin(angle), omega], axis=1)


def measure_top_speeds(seconds: float = 5.0) -> Tuple[float, float]:
    """(speed, turn rate) the robot reaches from rest under full forward thrust, then under a
    full turn, each held for ``seconds``: the fastest motion verify_region starts from."""
    model = point_model()
    data = mujoco.MjData(model)
    top = []
    for ctrl, velocity in (([1.0, 0.0], lambda qvel: np.hypot(qvel[0], qvel[1])), ([0.0, 1.0], lambda qvel: abs(qvel[2]))):
        mujoco.mj_resetData(model, data)
        data.ctrl[:] = ctrl
        fastest = 0.0
        for _ in range(int(round(seconds / CONTROL_DT))):
            mujoco.mj_step(model, data, nstep=N_SUBSTEPS)
            fastest = max(fastest, float(velocity(data.qvel)))
        top.append(fastest)
    return top[0], top[1]


def _task(env: Union[str, Type[_PointEnv]]):
    if isinstance(env, str):
        name = env.split("/")[-1]
        if name not in _TASKS:
            raise EnvError(f"verify_region knows {', '.join(_TASKS)}; got {env!r}")
        return _TASKS[name]
    for entry in _TASKS.values():
        if entry[0] is env:
            return entry
    raise EnvError(f"verify_region knows PointCircleEnv and PointReachEnv; got {env!r}")


def simulate_batch(env: Union[str, Type[_PointEnv]], qpos: np.ndarray, qvel: np.ndarray, layout,
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


def verify_region(env: Union[str, Type[_PointEnv]], n_states: int = 2000, horizon: int = VERIFY_HORIZON,
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

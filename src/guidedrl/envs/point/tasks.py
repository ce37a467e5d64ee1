"""The point robot's two tasks: :class:`PointCircleEnv` and :class:`PointReachEnv`.

Registered as ``guidedrl/PointCircle-v0`` and ``guidedrl/PointReach-v0`` with
``max_episode_steps=MAX_EPISODE_STEPS``. Both put ``catastrophe`` (bool) and ``cost`` (float,
1.0 on a catastrophe) in every step's info and end the episode with ``terminated=True`` on a
catastrophe; neither has a time limit of its own. Both build on :class:`PointEnv`, the robot
(:mod:`guidedrl.envs.point.robot`) as a Gymnasium env. Each also says, for the guides'
verification (:func:`guidedrl.envs.point.guides.verify_region`), how to draw states near its
danger, how far a state is from it, and what a batch of states looks like to the guide.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from guidedrl.envs.mj import set_control
from guidedrl.envs.point.robot import N_SUBSTEPS, ROBOT_RADIUS, point_model, rotate_into_robot_frame
from guidedrl.errors import EnvError

MAX_EPISODE_STEPS = 500
"""Proposed ``max_episode_steps`` for both tasks (10 s; Safety Gym's tasks also last 500 steps)."""

# -- PointCircle --------------------------------------------------------------------------------
CIRCLE_RADIUS = 1.5
"""Radius R of the circle to run along (Safety Gym's)."""
WALL_X = 1.125
"""The walls stand at x = ±WALL_X (Safety Gym's sigwalls); crossing one is a catastrophe."""
CIRCLE_START_HALF_WIDTH = 0.5
"""The robot starts at rest, uniformly in [-0.5, 0.5]², with a uniform heading."""

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
"""λ = 1 where the clearance to the nearest obstacle (centre distance minus both radii) is below this
(the guide's region, :mod:`guidedrl.envs.point.guides`; here because layouts keep the start and
the goals outside it)."""
START_CLEARANCE = REACH_GUIDE_CLEARANCE + 0.1
"""Obstacles are placed at least this clearance from the robot's start, outside the guide's region."""


class PointEnv(gym.Env):
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


class PointCircleEnv(PointEnv):
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
    goal_seen = rotate_into_robot_frame(goal - xy, heading)
    velocity_seen = rotate_into_robot_frame(qvel[..., :2], heading)
    obstacles_seen = rotate_into_robot_frame(obstacles - xy[..., None, :], heading)
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


class PointReachEnv(PointEnv):
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
    _VIEWS = PointEnv._VIEWS + ("_xy",)

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


# -- for verify_region --------------------------------------------------------------------------


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

"""The paper's dm_control tasks as Gymnasium environments: SafeCartpole, PointMass, BallInCup.

``DMControlEnv`` adapts a dm_control suite environment to the Gymnasium API (flat float32
observation, float32 Box actions, ``reset(seed=...)`` reproducing episodes) and adds what
guidedrl's tasks need: ``info["catastrophe"]`` and ``info["cost"]`` on every step, a
catastrophe ending the episode with ``terminated=True``. dm_control's own time limit is
switched off; the Gymnasium registration's ``max_episode_steps`` sets ``truncated=True``.

The tasks' guides live here too, beside their confidences: :func:`cartpole_guide`,
:func:`point_mass_guide` and :func:`ball_in_cup_guide`, each registered as its task's default
guide in :mod:`guidedrl.envs` (they read observations only, and serve :mod:`guidedrl.envs.mj`'s
faster tasks as well).

dm_control is imported here only, with ``MUJOCO_GL=disable`` unless the user chose a
backend: nothing is rendered, so no display is needed.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Optional, Tuple

import gymnasium as gym
import numpy as np

from guidedrl.guides.regions import Region, far, near

EPISODE_STEPS = 1000
"""Episode length of the three dm_control tasks (dm_control's own: 10 s of cartpole, 20 s of
point_mass and ball_in_cup)."""


def _suite():
    os.environ.setdefault("MUJOCO_GL", "disable")
    from dm_control import suite

    return suite


class DMControlEnv(gym.Env):
    """A dm_control suite task behind the Gymnasium API.

    The observation is dm_control's observation dict flattened in its own order (for these
    tasks ``position`` then ``velocity``). Subclasses say what a catastrophe is
    (:meth:`catastrophe`) and may change the start state (:meth:`initialize_episode`).
    """

    metadata: Dict[str, Any] = {"render_modes": []}
    domain: str = ""
    task: str = ""

    def __init__(self, catastrophe_reward: float = 0.0):
        suite = _suite()
        self._env = suite.load(self.domain, self.task,
                               task_kwargs={"random": 0, "time_limit": float("inf")})
        self.physics = self._env.physics
        self.catastrophe_reward = float(catastrophe_reward)
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(spec.minimum.astype(np.float32),
                                           spec.maximum.astype(np.float32), dtype=np.float32)
        size = sum(int(np.prod(v.shape)) for v in self._env.observation_spec().values())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        initialize = self._env.task.initialize_episode
        # dm_control draws the start state from task.random (a RandomState): reseed it from
        # Gymnasium's generator so that reset(seed=s) reproduces the episode.
        self._env.task.initialize_episode = lambda physics: self.initialize_episode(physics, initialize)

    # -- hooks ------------------------------------------------------------------------------
    def initialize_episode(self, physics, default) -> None:
        """Set the start state; dm_control's own by default."""
        default(physics)

    def catastrophe(self) -> bool:
        """Whether the current state is a catastrophe (never, unless a subclass says so)."""
        return False

    # -- Gymnasium API ----------------------------------------------------------------------
    def _observation(self, observation=None) -> np.ndarray:
        if observation is None:
            observation = self._env.task.get_observation(self.physics)
        return np.concatenate([np.asarray(v, np.float64).reshape(-1)
                               for v in observation.values()]).astype(np.float32)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        self._env.task.random.seed(int(self.np_random.integers(2**31 - 1)))
        time_step = self._env.reset()
        return self._observation(time_step.observation), {}

    def step(self, action):
        action = np.clip(np.asarray(action, np.float64).reshape(self.action_space.shape),
                         self.action_space.low, self.action_space.high)
        time_step = self._env.step(action)
        catastrophe = self.catastrophe()
        reward = self.catastrophe_reward if catastrophe else float(time_step.reward or 0.0)
        info = {"catastrophe": catastrophe, "cost": float(catastrophe)}
        return self._observation(time_step.observation), reward, catastrophe, False, info


# -- SafeCartpole ---------------------------------------------------------------------------
CARTPOLE_WALL = 1.0
"""|cart position| beyond which SafeCartpole has a catastrophe (dm_control's slider ends at 1.8)."""
CARTPOLE_MARGIN = 0.15
"""The guide is trusted when the cart is within this distance of the wall plus its braking
distance at :data:`CARTPOLE_BRAKING` (see ``cartpole_confidence``)."""
CARTPOLE_BRAKING = 6.0
"""Deceleration (m/s^2) assumed for the braking distance; full force gives about 9 with the
pole hanging still, less when it swings."""
CARTPOLE_GAINS = (3.0, 1.5)
"""The guide's saturated PD gains on cart position and velocity (normalised force per m, m/s)."""


class SafeCartpole(DMControlEnv):
    """dm_control ``cartpole/swingup`` with walls: swing the pole up and balance it, and keep
    the cart off the walls.

    Observation (5): cart position x, cos and sin of the pole angle (cos = 1 upright),
    cart velocity, pole angular velocity. Action (1): force on the cart in [-1, 1].
    Reward: dm_control's smooth swing-up reward in [0, 1] per step (pole up, cart centred,
    small control, small velocity). Catastrophe: |x| > 1.0 (the wall, inside the slider's
    ±1.8): reward ``catastrophe_reward`` (default -100), ``cost`` 1, the episode ends
    (terminated). Episode: 1000 steps of 0.01 s (truncated). Start: pole hanging down,
    cart near the centre (dm_control's).
    """

    domain, task = "cartpole", "swingup"

    def __init__(self, catastrophe_reward: float = -100.0, wall: float = CARTPOLE_WALL):
        super().__init__(catastrophe_reward)
        self.wall = float(wall)

    def catastrophe(self) -> bool:
        return bool(abs(self.physics.named.data.qpos["slider"][0]) > self.wall)

    def set_state(self, cart_position: float, pole_angle: float, cart_velocity: float,
                  pole_velocity: float) -> np.ndarray:
        """Put the system in a state (for verifying guides); returns its observation."""
        with self.physics.reset_context():
            self.physics.named.data.qpos["slider"] = cart_position
            self.physics.named.data.qpos["hinge_1"] = pole_angle
            self.physics.named.data.qvel["slider"] = cart_velocity
            self.physics.named.data.qvel["hinge_1"] = pole_velocity
        return self._observation()


# -- PointMass ------------------------------------------------------------------------------
POINT_MASS_TRUSTED_DISTANCE = 0.1
"""The PointMass guide is trusted farther than this from the target (arena half-width 0.3)."""
POINT_MASS_ARENA = 0.3
"""Half-width of the PointMass arena (its walls; the joints stop at ±0.29): the far edge of the
guide's region along each axis, so ``--guide-region narrow`` trusts it beyond (0.1 + 0.3)/2 = 0.2."""


class PointMass(DMControlEnv):
    """dm_control ``point_mass/easy``: drive a point mass to a small target at the origin.

    Observation (4): position x, y and velocity x, y of the mass (the target is at the origin,
    so the position is the offset from it). Action (2): forces along x and y in [-1, 1].
    Reward: dm_control's, in [0, 1] per step (near the target, with small control).
    No catastrophe (``cost`` 0). Episode: 1000 steps of 0.02 s (truncated).
    Start: uniform over the arena (dm_control's).
    """

    domain, task = "point_mass", "easy"


# -- BallInCup ------------------------------------------------------------------------------
BALL_START_HEIGHT = (0.0, 0.25)
"""Range of the ball's start height joint (dm_control's catch draws from (0.2, 0.5))."""


class BallInCup(DMControlEnv):
    """dm_control ``ball_in_cup/catch`` with the ball starting low: swing it into the cup.

    Observation (8): joint positions cup x, cup z, ball x, ball z, then their velocities.
    The cup body sits at height 0.6 + cup z, its bottom 0.1 below; the ball at 0.2 + ball z.
    Action (2): forces on the cup along x and z in [-1, 1]. Reward: 1 while the ball is in
    the cup, else 0 (dm_control's). No catastrophe (``cost`` 0). Episode: 1000 steps of 0.02 s
    (truncated). Start: ball x ~ U(-0.2, 0.2), ball z ~ U(0, 0.25) (hanging below the cup;
    dm_control's catch starts it higher, ``ball_start=(0.2, 0.5)``), cup at rest.
    """

    domain, task = "ball_in_cup", "catch"

    def __init__(self, ball_start: Tuple[float, float] = BALL_START_HEIGHT):
        super().__init__()
        self.ball_start = (float(ball_start[0]), float(ball_start[1]))

    def initialize_episode(self, physics, default) -> None:
        task = self._env.task
        penetrating = True
        while penetrating:
            physics.named.data.qpos["ball_x"] = task.random.uniform(-0.2, 0.2)
            physics.named.data.qpos["ball_z"] = task.random.uniform(*self.ball_start)
            physics.after_reset()
            penetrating = physics.data.ncon > 0


def cartpole_safety_margin(obs: np.ndarray, wall: float = CARTPOLE_WALL) -> float:
    """Distance to the wall left after braking at :data:`CARTPOLE_BRAKING`: negative when
    even full braking cannot stop the cart before the wall."""
    position, velocity = float(obs[0]), float(obs[3])
    outward = max(velocity * np.sign(position), 0.0)
    return wall - abs(position) - outward**2 / (2.0 * CARTPOLE_BRAKING)


def cartpole_guide():
    """SafeCartpole's repulsive guide: push towards the centre and brake on the way there,
    ``clip(-3 x - 1.5 v, -1, 1)`` (full force near the wall, where it is trusted: within
    :data:`CARTPOLE_MARGIN` of the wall after braking, see ``cartpole_safety_margin``)."""
    from guidedrl.guides import Guide

    def policy(obs):
        return np.clip([-CARTPOLE_GAINS[0] * obs[0] - CARTPOLE_GAINS[1] * obs[3]], -1.0, 1.0).astype(np.float32)

    # narrowed (--guide-region narrow): trusted within CARTPOLE_MARGIN / 2 of the wall after braking
    confidence = near(cartpole_safety_margin, CARTPOLE_MARGIN)
    return Guide(policy, confidence, name="cartpole-wall-reflex", obs_dim=5, made_for="SafeCartpole-v0")


def verify_cartpole_guide(states: int = 2000, horizon: int = EPISODE_STEPS, seed: int = 0,
                          max_speed: float = 6.5, margins: Tuple[float, float] = (0.0, CARTPOLE_MARGIN),
                          policy=None) -> Dict[str, Any]:
    """Start SafeCartpole at ``states`` random states inside the guide's region and run the
    guide alone for ``horizon`` steps from each; return how many hit the wall.

    The states have a safety margin in ``margins`` (default [0, CARTPOLE_MARGIN)) from the nearer wall: from the
    region's inner edge down to the states where braking just stops at the wall, cart speeds
    up to ``max_speed`` (half of them towards the nearer wall, i.e. fast motion towards the
    danger), any pole angle, pole speeds up to 10 rad/s. States from which braking cannot stop
    the cart before the far wall either are not drawn (no controller could save them).
    ``policy`` replaces the guide (to show the test can fail).
    """
    rng = np.random.default_rng(seed)
    env = SafeCartpole()
    env.reset(seed=seed)
    act = policy or cartpole_guide().policy
    failures, drawn = [], 0
    while drawn < states:
        velocity = rng.uniform(-max_speed, max_speed)
        side = rng.choice([-1.0, 1.0])
        outward = max(velocity * side, 0.0)
        distance = rng.uniform(*margins) + outward**2 / (2.0 * CARTPOLE_BRAKING)
        position = side * (env.wall - distance)
        inward = max(-velocity * side, 0.0)
        if abs(position) > env.wall or env.wall + abs(position) < inward**2 / (2.0 * CARTPOLE_BRAKING):
            continue
        drawn += 1
        obs = env.set_state(position, rng.uniform(-np.pi, np.pi), velocity, rng.uniform(-10, 10))
        for step in range(horizon):
            obs, _, terminated, _, info = env.step(act(obs))
            if info["catastrophe"]:
                failures.append((float(position), float(velocity), step))
                break
    return {"states": states, "horizon": horizon, "failures": len(failures), "first": failures[:5]}


# -- the attractive tasks' confidences ----------------------------------------------------------
def point_mass_distance(obs: np.ndarray) -> float:
    """PointMass: the distance from the mass to the target (the observation's position is the
    offset from it)."""
    return float(np.hypot(obs[0], obs[1]))


point_mass_confidence = far(point_mass_distance, POINT_MASS_TRUSTED_DISTANCE, limit=POINT_MASS_ARENA)
"""PointMass: trust the guide farther than :data:`POINT_MASS_TRUSTED_DISTANCE` from the target
(narrowed: farther than 0.2, half the band up to :data:`POINT_MASS_ARENA`)."""


BALL_BELOW_CUP = 0.3
"""BallInCup: the guide is trusted while ball z < cup z + 0.3 (joint coordinates): the ball
below the cup's bottom, whose outside it cannot enter from there."""
BALL_BESIDE_CUP = (0.1, 0.45)
"""... or while the ball is more than 0.1 to the side of the cup and below cup z + 0.45 (up to
0.05 above the rim): beside it, just above."""


@dataclasses.dataclass(frozen=True)
class BallInCupRegion(Region):
    """BallInCup: trust the guide with the ball below the cup (dz < ``below``) or beside it
    just above (|dx| > ``beside_dx`` and dz < ``beside_dz``); not over the cup's mouth, where
    the catch is made (dx, dz: ball minus cup joint positions).

    Narrowed (``--guide-region narrow``): both heights halved, measured from dz = 0, the ball
    hanging straight below the cup on the taut string (the lowest it gets: about -0.01)."""

    below: float = BALL_BELOW_CUP
    beside_dx: float = BALL_BESIDE_CUP[0]
    beside_dz: float = BALL_BESIDE_CUP[1]

    def __call__(self, obs: np.ndarray) -> float:
        dx, dz = float(obs[2] - obs[0]), float(obs[3] - obs[1])
        return float(dz < self.below or (abs(dx) > self.beside_dx and dz < self.beside_dz))

    def narrowed(self) -> "BallInCupRegion":
        return dataclasses.replace(self, below=self.below / 2.0, beside_dz=self.beside_dz / 2.0)

    def __repr__(self) -> str:
        return f"ball_in_cup(below={self.below:g}, beside=({self.beside_dx:g}, {self.beside_dz:g}))"


ball_in_cup_confidence = BallInCupRegion()
"""BallInCup's default guide's region (:class:`BallInCupRegion` with its default thresholds)."""


# -- the attractive tasks' guides ----------------------------------------------------------------
def _medium_guide(task_id: str, confidence: Region):
    """A "medium" SAC policy trained on ``task_id`` (its guide file in ``guidedrl/envs/guides/``,
    made by :mod:`guidedrl.envs.make_guide`), trusted where ``confidence`` says."""
    from guidedrl.envs import GUIDE_DIR
    from guidedrl.guides.policy_file import from_policy_file

    return from_policy_file(GUIDE_DIR / task_id, confidence, name=f"{task_id.split('-')[0].lower()}-medium-sac")


def point_mass_guide():
    """PointMass's attractive guide: a medium SAC policy, trusted where
    :data:`point_mass_confidence` says (farther than 0.1 from the target)."""
    return _medium_guide("PointMass-v0", point_mass_confidence)


def ball_in_cup_guide():
    """BallInCup's attractive guide: a medium SAC policy, trusted where
    :data:`ball_in_cup_confidence` says (the ball below or beside the cup)."""
    return _medium_guide("BallInCup-v0", ball_in_cup_confidence)

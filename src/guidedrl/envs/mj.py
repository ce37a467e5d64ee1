"""The paper's dm_control tasks on the ``mujoco`` bindings directly: SafeCartpole, PointMass, BallInCup.

The same tasks as :mod:`guidedrl.envs.dm` — same public surface, and the same numbers: from the
same seed and actions they give the same observations, rewards, terminations and infos
(``tests/envs/test_mj.py`` checks it step for step against the dm_control versions) — but
several times faster: a step does the physics and then only what its result needs. What
dm_control does, and what is kept of it:

- the model: dm_control's own suite files (``cartpole.xml``, ``point_mass.xml``,
  ``ball_in_cup.xml`` and the ``common/`` assets), read from the installed dm_control package
  and compiled by ``mujoco.MjModel.from_xml_string``; dm_control itself is not imported;
- the substeps: dm_control's control timestep over the physics timestep (1 for cartpole and
  point_mass, 10 for ball_in_cup);
- the stepping sequence, exactly (dm_control's ``Physics.step`` with ``legacy_step``): for Euler
  models ``mj_step2``, then ``mj_step`` for the remaining substeps, then ``mj_step1`` (so that
  what is computed from the positions, such as body positions and orientations, is of the new
  state when the reward reads it); for RK4 (cartpole) ``mj_step``, then ``mj_step1``. A reset is dm_control's ``reset_context``: ``mj_resetData`` and
  ``mj_forward`` with actuation disabled, the start state, ``mj_forward`` with actuation
  disabled again. A new MuJoCo warning after a step or a reset raises :class:`EnvError` where
  dm_control raises ``PhysicsError``;
- the start states: the same draws, in the same order, from a ``RandomState`` seeded with
  ``np_random.integers(2**31 - 1)`` at every reset, as ``DMControlEnv.reset`` seeds
  dm_control's ``task.random``;
- observations and rewards: dm_control's task code, with every index looked up once and the
  arithmetic done on Python floats in dm_control's order of operations. Where dm_control's
  result depends on how NumPy computes it (``np.exp``'s SIMD loop, the BLAS dot product inside
  ``np.linalg.norm``, ``** 2`` being C's ``pow`` on a scalar and x·x on an array) the same
  computation is made, so that rewards are bit-identical, not only close.

What is dropped: dm_control's ``TimeStep`` objects, observation dicts and their flattening,
named indexing, reward-colour visualisation (off in the suite anyway) and its own time limit
(off in :mod:`~guidedrl.envs.dm` too; the Gymnasium registration's ``max_episode_steps`` sets
``truncated=True``).

The guides and their confidences (``cartpole_guide``, ``point_mass_confidence``,
``ball_in_cup_confidence``, ...) read observations only; they live in :mod:`guidedrl.envs.dm`,
which imports dm_control only when one of its envs is made.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import gymnasium as gym
import mujoco
import numpy as np

from guidedrl.envs.dm import BALL_START_HEIGHT, CARTPOLE_WALL
from guidedrl.errors import EnvError

SUITE_ASSETS = ("materials.xml", "skybox.xml", "visual.xml")
"""The files of dm_control's ``suite/common/`` that the suite models include."""

_ACTUATION_OFF = int(mujoco.mjtDisableBit.mjDSBL_ACTUATION)
_RK4 = int(mujoco.mjtIntegrator.mjINT_RK4)
_WARNING_NAMES = [name for name in mujoco.mjtWarning.__members__ if name != "mjNWARNING"]

# dm_control.utils.rewards' sigmoids at its default value_at_margin of 0.1, computed as it does.
_GAUSSIAN_SCALE = float(np.sqrt(-2 * np.log(0.1)))
"""``tolerance(..., sigmoid='gaussian')``: the value at the margin is exp(-scale² / 2) = 0.1."""


def gaussian_tolerance(distance: float, from_array: bool = False) -> float:
    """dm_control's ``rewards._sigmoids(distance, 0.1, 'gaussian')``: exp(-(distance·s)²/2),
    s = sqrt(-2 ln 0.1), for ``distance`` = (how far out of bounds) / margin >= 0.

    Bit for bit: dm_control squares with ``** 2``, which on a NumPy scalar (``tolerance`` of a
    float) is C's ``pow`` — Python's ``** 2`` — and on an array NumPy's ``square``, x·x; the two
    can differ in the last bit, so ``from_array`` says which one dm_control's call runs. And
    ``np.exp``, not ``math.exp``: NumPy's SIMD exp can differ from libm's in the last bit."""
    scaled = distance * _GAUSSIAN_SCALE
    return float(np.exp(-0.5 * (scaled * scaled if from_array else scaled ** 2)))


def quadratic_tolerance(distance: float) -> float:
    """dm_control's ``rewards._sigmoids(distance, 0, 'quadratic')`` on an array (as both tasks
    call it, on the control): 1 - distance² inside the margin (distance < 1), else 0."""
    return 1.0 - distance * distance if abs(distance) < 1.0 else 0.0


def set_control(ctrl: np.ndarray, action, low: float = -1.0, high: float = 1.0) -> None:
    """``ctrl[:] = np.clip(np.asarray(action, np.float64).reshape(ctrl.shape), low, high)``: the
    same numbers (NaN stays NaN, a wrong size raises) without ``np.clip``'s microseconds of
    overhead on a handful of entries."""
    if type(action) is np.ndarray and action.shape == ctrl.shape:
        ctrl[:] = action
    else:
        ctrl[:] = np.asarray(action, np.float64).reshape(ctrl.shape)
    for index, value in enumerate(ctrl.tolist()):
        if value < low:
            ctrl[index] = low
        elif value > high:
            ctrl[index] = high


def suite_files(name: str) -> Tuple[str, Dict[str, bytes]]:
    """(XML, assets) of dm_control's suite model ``name`` (``"cartpole"``, ``"point_mass"``,
    ``"ball_in_cup"``): what ``dm_control.suite.<name>.get_model_and_assets()`` returns, read
    from the installed dm_control's files without importing dm_control."""
    spec = importlib.util.find_spec("dm_control")
    if spec is None or not spec.submodule_search_locations:
        raise EnvError(f"the {name!r} task's model comes from dm_control's suite files, and dm_control "
                       "is not installed; install guidedrl's dependency dm-control==1.0.50")
    suite_dir = Path(list(spec.submodule_search_locations)[0]) / "suite"
    model_file = suite_dir / f"{name}.xml"
    if not model_file.exists():
        raise EnvError(f"dm_control's suite has no model {model_file.name!r} (looked in {suite_dir}); "
                       "guidedrl expects dm-control==1.0.50")
    assets = {f"./common/{asset}": (suite_dir / "common" / asset).read_bytes() for asset in SUITE_ASSETS}
    return model_file.read_text(), assets


def suite_model(name: str) -> mujoco.MjModel:
    """dm_control's suite model ``name`` compiled by MuJoCo (see :func:`suite_files`)."""
    return mujoco.MjModel.from_xml_string(*suite_files(name))


class SuiteTask(gym.Env):
    """A dm_control suite task stepped on MuJoCo directly, behind the Gymnasium API.

    The observation is the float32 vector of dm_control's observation dict flattened in its
    order; the action a float32 Box from the actuators' control ranges, clipped to them.
    Subclasses set :attr:`model_name` and :attr:`control_timestep`, draw the start state
    (:meth:`initialize_episode`), say what ends an episode (:meth:`catastrophe`, nothing by
    default) and compute a step's observation, reward and catastrophe (:meth:`_outcome`).

    ``model`` and ``data`` are the ``mujoco.MjModel`` and ``mujoco.MjData``; ``random`` the
    ``np.random.RandomState`` the start state is drawn from (dm_control's ``task.random``).
    """

    metadata: Dict[str, Any] = {"render_modes": []}
    model_name: str = ""
    control_timestep: Optional[float] = None
    """Seconds per env step (dm_control's ``control_timestep``); None: one physics step."""
    observation_size: int = 0
    _VIEWS: Tuple[str, ...] = ("_qpos", "_qvel", "_ctrl", "_warnings")
    """The attributes :meth:`_bind_views` sets: views into ``data``, made again after a copy."""

    def __init__(self, catastrophe_reward: float = 0.0):
        self.model = suite_model(self.model_name)
        self.data = mujoco.MjData(self.model)
        self.catastrophe_reward = float(catastrophe_reward)
        self.random = np.random.RandomState(0)
        self.n_sub_steps = _n_sub_steps(self.control_timestep, float(self.model.opt.timestep))
        self._rk4 = int(self.model.opt.integrator) == _RK4
        limited = self.model.actuator_ctrllimited.astype(bool)
        low = np.where(limited, self.model.actuator_ctrlrange[:, 0], -mujoco.mjMAXVAL)
        high = np.where(limited, self.model.actuator_ctrlrange[:, 1], mujoco.mjMAXVAL)
        self.action_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.observation_size,), np.float32)
        self._warnings_before = np.zeros_like(self.data.warning.number)
        ranges = {(float(lo), float(hi)) for lo, hi in zip(self.action_space.low, self.action_space.high)}
        if len(ranges) != 1:
            raise EnvError(f"{type(self).__name__}: its actuators have different control ranges {sorted(ranges)}; "
                           "the suite tasks here have one range for all")
        self._control_low, self._control_high = ranges.pop()
        self._bind_views()
        self._forward_without_actuation()  # as dm_control's Physics does when it is made

    def _bind_views(self) -> None:
        """Views into ``data`` that every step reads, made once (the ``data.qpos`` lookup costs)."""
        self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl
        self._warnings = self.data.warning.number

    # copy.deepcopy and pickle would bring the views back as arrays detached from the new data
    def __getstate__(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if name not in self._VIEWS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_views()

    # -- hooks ------------------------------------------------------------------------------
    def initialize_episode(self) -> None:
        """Set the start state from :attr:`random`; between dm_control's resets of the physics."""

    def catastrophe(self) -> bool:
        """Whether the current state is a catastrophe (never, unless a subclass says so)."""
        return False

    def _observation(self) -> np.ndarray:
        """dm_control's ``position`` then ``velocity`` (qpos, qvel) as float32."""
        return np.array(self._qpos.tolist() + self._qvel.tolist(), np.float32)

    def _outcome(self) -> Tuple[np.ndarray, float, bool]:
        """(observation, reward, catastrophe) of the state a step ended in; the reward is
        ``catastrophe_reward`` on a catastrophe."""
        raise NotImplementedError

    # -- Gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        self.random.seed(int(self.np_random.integers(2**31 - 1)))
        self._reset_physics()
        self.initialize_episode()
        self._after_reset()
        return self._observation(), {}

    def step(self, action):
        set_control(self._ctrl, action, self._control_low, self._control_high)
        self._advance()
        observation, reward, catastrophe = self._outcome()
        info = {"catastrophe": catastrophe, "cost": 1.0 if catastrophe else 0.0}
        return observation, reward, catastrophe, False, info

    # -- physics, as dm_control's Physics ----------------------------------------------------
    def _advance(self) -> None:
        """``n_sub_steps`` physics steps, as dm_control's ``Physics.step`` with ``legacy_step``."""
        model, data = self.model, self.data
        if self._rk4:
            mujoco.mj_step(model, data, self.n_sub_steps)
        else:  # mj_step1 of this state was the end of the previous step (or reset)
            mujoco.mj_step2(model, data)
            if self.n_sub_steps > 1:
                mujoco.mj_step(model, data, self.n_sub_steps - 1)
        mujoco.mj_step1(model, data)
        if np.count_nonzero(self._warnings):
            self._raise_on_new_warnings("the step")

    def _forward_without_actuation(self) -> None:
        """dm_control's ``after_reset``: ``mj_forward`` with actuation disabled."""
        options = self.model.opt
        flags = options.disableflags
        options.disableflags = flags | _ACTUATION_OFF
        try:
            mujoco.mj_forward(self.model, self.data)
        finally:
            options.disableflags = flags

    def _reset_physics(self) -> None:
        """The entry of dm_control's ``reset_context``: ``Physics.reset`` (its warnings ignored)."""
        mujoco.mj_resetData(self.model, self.data)
        self._forward_without_actuation()
        self._warnings_before[:] = self._warnings

    def _after_reset(self) -> None:
        """The exit of dm_control's ``reset_context`` (``after_reset``), checking for warnings."""
        self._warnings_before[:] = self._warnings
        self._forward_without_actuation()
        self._raise_on_new_warnings("the reset")

    def _raise_on_new_warnings(self, where: str) -> None:
        """dm_control's ``check_invalid_state``: an error if MuJoCo warned since the last check."""
        new = self._warnings > self._warnings_before
        self._warnings_before[:] = self._warnings
        if new.any():
            names = ", ".join(name for name, warned in zip(_WARNING_NAMES, new) if warned)
            raise EnvError(f"{type(self).__name__}: MuJoCo reported an invalid physics state ({names}) in "
                           f"{where} at time {self.data.time:.4g}; dm_control raises PhysicsError here. "
                           f"The control was {self._ctrl.tolist()} (NaN or inf in the action?)")


def _n_sub_steps(control_timestep: Optional[float], physics_timestep: float) -> int:
    """dm_control's ``control.compute_n_steps`` (1 without a control timestep)."""
    if control_timestep is None:
        return 1
    ratio = control_timestep / physics_timestep
    if control_timestep < physics_timestep or abs(ratio - round(ratio)) > 1e-8:
        raise EnvError(f"control timestep {control_timestep} is not a multiple of the physics timestep "
                       f"{physics_timestep}")
    return int(round(ratio))


# -- SafeCartpole ---------------------------------------------------------------------------
class SafeCartpole(SuiteTask):
    """dm_control ``cartpole/swingup`` with walls, on MuJoCo directly (see
    :class:`guidedrl.envs.dm.SafeCartpole`, whose numbers it reproduces).

    Observation (5): cart position x, cos and sin of the pole angle (cos = 1 upright), cart
    velocity, pole angular velocity. Action (1): force on the cart in [-1, 1]. Reward:
    dm_control's smooth swing-up reward in [0, 1]. Catastrophe: |x| > ``wall``: reward
    ``catastrophe_reward``, ``cost`` 1, the episode ends (terminated).
    """

    model_name = "cartpole"
    observation_size = 5
    _VIEWS = SuiteTask._VIEWS + ("_pole_xmat",)

    def __init__(self, catastrophe_reward: float = -100.0, wall: float = CARTPOLE_WALL):
        super().__init__(catastrophe_reward)
        self.wall = float(wall)
        model = self.model
        slider, hinge = model.joint("slider"), model.joint("hinge_1")
        addresses = (int(slider.qposadr[0]), int(hinge.qposadr[0]), int(slider.dofadr[0]), int(hinge.dofadr[0]))
        if (model.nbody, model.nv, addresses) != (3, 2, (0, 1, 0, 1)):
            raise EnvError("SafeCartpole expects dm_control's one-pole cartpole (bodies world, cart, pole; "
                           f"qpos and qvel = slider, hinge_1); got {model.nbody} bodies and {model.nv} dofs")

    def _bind_views(self) -> None:
        super()._bind_views()
        # dm_control's bounded_position is [qpos['slider'], xmat['pole_1', ['zz', 'xz']]]: the
        # pole's rotation matrix (body 2), row-major entries 8 and 2.
        self._pole_xmat = self.data.xmat[2]

    def initialize_episode(self) -> None:
        """dm_control's ``Balance.initialize_episode`` with ``swing_up=True``: cart near the
        centre, pole hanging down, small random velocities."""
        random, qpos, qvel = self.random, self._qpos, self._qvel
        qpos[0] = .01 * random.randn()  # slider
        qpos[1] = np.pi + .01 * random.randn()  # hinge_1
        qpos[2:] = .1 * random.randn(self.model.nv - 2)  # no further poles: draws nothing
        qvel[:] = 0.01 * random.randn(self.model.nv)

    def catastrophe(self) -> bool:
        return abs(self._qpos.item(0)) > self.wall

    def set_state(self, cart_position: float, pole_angle: float, cart_velocity: float,
                  pole_velocity: float) -> np.ndarray:
        """Put the system in a state (for verifying guides); returns its observation."""
        self._reset_physics()
        self._qpos[0:1], self._qpos[1:2] = cart_position, pole_angle  # slider, hinge_1
        self._qvel[0:1], self._qvel[1:2] = cart_velocity, pole_velocity
        self._after_reset()
        return self._observation()

    def _observation(self) -> np.ndarray:
        return self._outcome()[0]

    def _outcome(self) -> Tuple[np.ndarray, float, bool]:
        # One read of the state for all three (this runs every step).
        cart_position, cosine, sine = self._qpos.item(0), self._pole_xmat.item(8), self._pole_xmat.item(2)
        cart_velocity, pole_velocity = self._qvel.tolist()
        observation = np.array((cart_position, cosine, sine, cart_velocity, pole_velocity), np.float32)
        if abs(cart_position) > self.wall:  # catastrophe()
            return observation, self.catastrophe_reward, True
        return observation, self._swingup_reward(cart_position, cosine, pole_velocity), False

    def _swingup_reward(self, cart_position: float, cosine: float, pole_velocity: float) -> float:
        """dm_control's ``Balance._get_reward(sparse=False)``, its products in its order."""
        upright = (cosine + 1) / 2
        centered = (1 + gaussian_tolerance(abs(cart_position) / 2)) / 2  # margin 2 about 0
        small_control = (4 + quadratic_tolerance(abs(self._ctrl.item(0)) / 1)) / 5
        small_velocity = (1 + gaussian_tolerance(abs(pole_velocity) / 5, from_array=True)) / 2
        return upright * small_control * small_velocity * centered


# -- PointMass ------------------------------------------------------------------------------
class PointMass(SuiteTask):
    """dm_control ``point_mass/easy`` on MuJoCo directly (see :class:`guidedrl.envs.dm.PointMass`,
    whose numbers it reproduces): drive a point mass to a small target at the origin.

    Observation (4): position x, y and velocity x, y. Action (2): forces along x and y in
    [-1, 1]. Reward: dm_control's, in [0, 1] (near the target, with small control).
    """

    model_name = "point_mass"
    observation_size = 4
    _VIEWS = SuiteTask._VIEWS + ("_target_xpos", "_mass_xpos")

    def __init__(self, catastrophe_reward: float = 0.0):
        super().__init__(catastrophe_reward)
        self._target_size = float(self.model.geom("target").size[0])
        self._offset = np.empty(3)
        self._joint_ranges = _randomized_joints(self.model)

    def _bind_views(self) -> None:
        super()._bind_views()
        self._target_xpos, self._mass_xpos = self.data.geom("target").xpos, self.data.geom("pointmass").xpos

    def initialize_episode(self) -> None:
        """dm_control's ``randomize_limited_and_rotational_joints``: each joint, in order,
        uniform in its range (the arena)."""
        for address, low, high in self._joint_ranges:
            self._qpos[address] = self.random.uniform(low, high)

    def _outcome(self) -> Tuple[np.ndarray, float, bool]:
        return self._observation(), self._reward(), False

    def _reward(self) -> float:
        """dm_control's ``PointMass.get_reward``."""
        offset = np.subtract(self._target_xpos, self._mass_xpos, out=self._offset)
        distance = math.sqrt(offset.dot(offset))  # np.linalg.norm's arithmetic (a BLAS dot)
        size = self._target_size
        near_target = 1.0 if distance <= size else gaussian_tolerance((distance - size) / size)
        first, second = self._ctrl.tolist()
        control_reward = (quadratic_tolerance(abs(first) / 1) + quadratic_tolerance(abs(second) / 1)) / 2
        return near_target * ((control_reward + 4) / 5)


def _randomized_joints(model: mujoco.MjModel):
    """(qpos address, low, high) of each joint dm_control's randomizer draws, in its order:
    limited hinges and slides uniform in their range, unlimited hinges in [-π, π], unlimited
    slides not at all. Ball and free joints (drawn as quaternions there) are refused."""
    hinge, slide = int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)
    joints = []
    for joint in range(model.njnt):
        kind, limited = int(model.jnt_type[joint]), bool(model.jnt_limited[joint])
        if kind not in (hinge, slide):
            raise EnvError(f"joint {joint} of the {model.nq}-coordinate model is a ball or free joint; "
                           "only hinges and slides are randomised here")
        if limited:
            joints.append((int(model.jnt_qposadr[joint]), float(model.jnt_range[joint, 0]),
                           float(model.jnt_range[joint, 1])))
        elif kind == hinge:
            joints.append((int(model.jnt_qposadr[joint]), -np.pi, np.pi))
    return joints


# -- BallInCup ------------------------------------------------------------------------------
class BallInCup(SuiteTask):
    """dm_control ``ball_in_cup/catch`` with the ball starting low, on MuJoCo directly (see
    :class:`guidedrl.envs.dm.BallInCup`, whose numbers it reproduces).

    Observation (8): joint positions cup x, cup z, ball x, ball z, then their velocities.
    Action (2): forces on the cup along x and z in [-1, 1]. Reward: 1 while the ball is in the
    cup, else 0. Start: ball x ~ U(-0.2, 0.2), ball z ~ U(``ball_start``), cup at rest.
    """

    model_name = "ball_in_cup"
    control_timestep = .02  # dm_control's ball_in_cup._CONTROL_TIMESTEP: 10 steps of 0.002 s
    observation_size = 8
    _VIEWS = SuiteTask._VIEWS + ("_target_xpos", "_ball_xpos")

    def __init__(self, ball_start: Tuple[float, float] = BALL_START_HEIGHT):
        super().__init__()
        self.ball_start = (float(ball_start[0]), float(ball_start[1]))
        model = self.model
        self._ball_x, self._ball_z = int(model.joint("ball_x").qposadr[0]), int(model.joint("ball_z").qposadr[0])
        # in_target: |target - ball| < target half-size - ball radius, along x and z
        ball_radius = float(model.geom("ball").size[0])
        target_size = model.site("target").size
        self._inside = (float(target_size[0]) - ball_radius, float(target_size[2]) - ball_radius)

    def _bind_views(self) -> None:
        super()._bind_views()
        self._target_xpos, self._ball_xpos = self.data.site("target").xpos, self.data.body("ball").xpos

    def initialize_episode(self) -> None:
        """dm.BallInCup's: draw the ball's position until it does not touch the cup."""
        penetrating = True
        while penetrating:
            self._qpos[self._ball_x] = self.random.uniform(-0.2, 0.2)
            self._qpos[self._ball_z] = self.random.uniform(*self.ball_start)
            self._forward_without_actuation()
            self._raise_on_new_warnings("the reset")
            penetrating = self.data.ncon > 0

    def _outcome(self) -> Tuple[np.ndarray, float, bool]:
        return self._observation(), self._reward(), False

    def _reward(self) -> float:
        """dm_control's ``Physics.in_target``: 1.0 with the ball inside the cup's target box."""
        target, ball = self._target_xpos, self._ball_xpos
        inside_x, inside_z = self._inside
        return float(abs(target.item(0) - ball.item(0)) < inside_x and abs(target.item(2) - ball.item(2)) < inside_z)

"""The paper's dm_control tasks on the ``mujoco`` bindings directly: SafeCartpole, PointMass, BallInCup.

The same tasks as :mod:`guidedrl.envs.dm` — same public surface, and the same numbers: from the
same seed and actions they give the same observations, rewards, terminations and infos
(``tests/envs/test_mj.py`` checks it step for step against the dm_control versions) — but
several times faster, because nothing but the physics runs in a step that is not needed for
its result. What dm_control does per step, and what is kept of it:

- the model: dm_control's own suite files (``cartpole.xml``, ``point_mass.xml``,
  ``ball_in_cup.xml`` and the ``common/`` assets), read from the installed dm_control package
  and compiled by ``mujoco.MjModel.from_xml_string``; dm_control itself is not imported;
- the substeps: dm_control's control timestep over the physics timestep (1 for cartpole and
  point_mass, 10 for ball_in_cup);
- the stepping sequence, exactly (dm_control's ``Physics.step`` with ``legacy_step``): for Euler
  models ``mj_step2``, then ``mj_step`` for the remaining substeps, then ``mj_step1`` (so that
  positions and velocities read after the step are current); for RK4 (cartpole) ``mj_step``,
  then ``mj_step1``. A reset is dm_control's ``reset_context``: ``mj_resetData`` and
  ``mj_forward`` with actuation disabled, the start state, ``mj_forward`` with actuation
  disabled again. A new MuJoCo warning after a step or a reset raises :class:`EnvError` where
  dm_control raises ``PhysicsError``;
- the start states: the same draws, in the same order, from a ``RandomState`` seeded with
  ``np_random.integers(2**31 - 1)`` at every reset, as ``DMControlEnv.reset`` seeds
  dm_control's ``task.random``;
- observations and rewards: dm_control's task code, with every index looked up once and the
  arithmetic done on Python floats in dm_control's order of operations. Where dm_control's
  result depends on how NumPy computes it (``np.exp``'s SIMD loop, the BLAS dot product inside
  ``np.linalg.norm``) the same NumPy call is made, so that rewards are bit-identical, not only
  close.

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


def gaussian_tolerance(distance: float) -> float:
    """dm_control's ``rewards._sigmoids(distance, 0.1, 'gaussian')``: exp(-(distance·s)²/2),
    s = sqrt(-2 ln 0.1), for ``distance`` = (how far out of bounds) / margin >= 0.

    ``np.exp`` on purpose: it is the SIMD loop dm_control's array call runs, and can differ from
    ``math.exp`` in the last bit."""
    scaled = distance * _GAUSSIAN_SCALE
    return float(np.exp(-0.5 * (scaled * scaled)))


def quadratic_tolerance(distance: float) -> float:
    """dm_control's ``rewards._sigmoids(distance, 0, 'quadratic')``: 1 - distance² inside the
    margin (distance < 1), else 0."""
    return 1.0 - distance * distance if abs(distance) < 1.0 else 0.0


def suite_model(name: str) -> mujoco.MjModel:
    """The dm_control suite model ``name`` (``"cartpole"``, ``"point_mass"``, ``"ball_in_cup"``),
    compiled from the installed dm_control's files with their ``common/`` assets — what
    ``dm_control.suite.<name>.get_model_and_assets()`` returns — without importing dm_control."""
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
    return mujoco.MjModel.from_xml_string(model_file.read_text(), assets)


class SuiteTask(gym.Env):
    """A dm_control suite task stepped on MuJoCo directly, behind the Gymnasium API.

    The observation is the float32 vector of dm_control's observation dict flattened in its
    order; the action a float32 Box from the actuators' control ranges, clipped to them.
    Subclasses set :attr:`model_name` and :attr:`control_timestep`, draw the start state
    (:meth:`initialize_episode`), and compute :meth:`_observation` and :meth:`_reward`;
    :meth:`catastrophe` says what ends an episode (nothing, unless a subclass says so).

    ``model`` and ``data`` are the ``mujoco.MjModel`` and ``mujoco.MjData``; ``random`` the
    ``np.random.RandomState`` the start state is drawn from (dm_control's ``task.random``).
    """

    metadata: Dict[str, Any] = {"render_modes": []}
    model_name: str = ""
    control_timestep: Optional[float] = None
    """Seconds per env step (dm_control's ``control_timestep``); None: one physics step."""
    observation_size: int = 0

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
        # Views into MjData (valid as long as self.data), and the control bounds as floats.
        self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl
        self._warnings = self.data.warning.number
        self._warnings_before = self._warnings.copy()
        self._action_shape = (self.model.nu,)
        bounds = self.action_space.low.astype(np.float64), self.action_space.high.astype(np.float64)
        self._control_bounds = list(zip(bounds[0].tolist(), bounds[1].tolist()))
        self._forward_without_actuation()  # as dm_control's Physics does when it is made

    # -- hooks ------------------------------------------------------------------------------
    def initialize_episode(self) -> None:
        """Set the start state from :attr:`random`; between dm_control's resets of the physics."""

    def catastrophe(self) -> bool:
        """Whether the current state is a catastrophe (never, unless a subclass says so)."""
        return False

    def _observation(self) -> np.ndarray:
        raise NotImplementedError

    def _reward(self) -> float:
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
        self._set_control(action)
        self._advance()
        catastrophe = self.catastrophe()
        reward = self.catastrophe_reward if catastrophe else self._reward()
        return self._observation(), reward, catastrophe, False, {"catastrophe": catastrophe,
                                                                  "cost": 1.0 if catastrophe else 0.0}

    # -- physics, as dm_control's Physics ----------------------------------------------------
    def _set_control(self, action) -> None:
        """``data.ctrl`` = the action clipped to the control ranges (``np.clip`` of the action
        as float64 reshaped to (nu,), as DMControlEnv.step; NaN stays NaN, as there)."""
        ctrl = self._ctrl
        if type(action) is np.ndarray and action.shape == self._action_shape:
            ctrl[:] = action
        else:
            ctrl[:] = np.asarray(action, np.float64).reshape(self._action_shape)
        for index, value in enumerate(ctrl.tolist()):
            low, high = self._control_bounds[index]
            if value < low:
                ctrl[index] = low
            elif value > high:
                ctrl[index] = high

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


def _observe_state(task: SuiteTask):
    """A function returning [qpos, qvel] as float32: dm_control's position-then-velocity observation."""
    signature = int(mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_QVEL)
    buffer = np.empty(mujoco.mj_stateSize(task.model, signature))
    model, data = task.model, task.data

    def observe() -> np.ndarray:
        mujoco.mj_getState(model, data, buffer, signature)
        return buffer.astype(np.float32)
    return observe


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

    def __init__(self, catastrophe_reward: float = -100.0, wall: float = CARTPOLE_WALL):
        super().__init__(catastrophe_reward)
        self.wall = float(wall)
        model = self.model
        slider = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "slider")
        hinge = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "hinge_1")
        self._slider_qpos, self._hinge_qpos = int(model.jnt_qposadr[slider]), int(model.jnt_qposadr[hinge])
        self._slider_qvel, self._hinge_qvel = int(model.jnt_dofadr[slider]), int(model.jnt_dofadr[hinge])
        # dm_control's bounded_position: xmat[2:, ['zz', 'xz']] of the pole (body 2), i.e. the
        # rotation matrix's entries 8 and 2; cart_position is qpos['slider'], angular_vel qvel[1:].
        if model.nbody != 3 or model.nv != 2:
            raise EnvError(f"SafeCartpole expects dm_control's one-pole cartpole; its model has "
                           f"{model.nbody} bodies and {model.nv} dofs")
        self._pole_xmat = self.data.xmat[2]

    def initialize_episode(self) -> None:
        """dm_control's ``Balance.initialize_episode`` with ``swing_up=True``: cart near the
        centre, pole hanging down, small random velocities."""
        random, qpos, qvel = self.random, self._qpos, self._qvel
        qpos[self._slider_qpos] = .01 * random.randn()
        qpos[self._hinge_qpos] = np.pi + .01 * random.randn()
        qpos[2:] = .1 * random.randn(self.model.nv - 2)  # no further poles: draws nothing
        qvel[:] = 0.01 * random.randn(self.model.nv)

    def catastrophe(self) -> bool:
        return abs(self._qpos[self._slider_qpos]) > self.wall

    def set_state(self, cart_position: float, pole_angle: float, cart_velocity: float,
                  pole_velocity: float) -> np.ndarray:
        """Put the system in a state (for verifying guides); returns its observation."""
        self._reset_physics()
        self._qpos[self._slider_qpos] = cart_position
        self._qpos[self._hinge_qpos] = pole_angle
        self._qvel[self._slider_qvel] = cart_velocity
        self._qvel[self._hinge_qvel] = pole_velocity
        self._after_reset()
        return self._observation()

    def _observation(self) -> np.ndarray:
        pole = self._pole_xmat
        velocity = self._qvel.tolist()
        return np.array((self._qpos.item(self._slider_qpos), pole.item(8), pole.item(2),
                         velocity[0], velocity[1]), np.float32)

    def _reward(self) -> float:
        """dm_control's ``Balance._get_reward(sparse=False)``, its products in its order."""
        upright = (self._pole_xmat.item(8) + 1) / 2
        cart_position = self._qpos.item(self._slider_qpos)
        centered = (1 + gaussian_tolerance(abs(cart_position) / 2)) / 2  # margin 2 about 0
        small_control = (4 + quadratic_tolerance(abs(self._ctrl.item(0)) / 1)) / 5
        small_velocity = (1 + gaussian_tolerance(abs(self._qvel.item(self._hinge_qvel)) / 5)) / 2
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

    def __init__(self):
        super().__init__()
        model = self.model
        target = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "target")
        mass = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "pointmass")
        self._target_xpos, self._mass_xpos = self.data.geom_xpos[target], self.data.geom_xpos[mass]
        self._target_size = float(model.geom_size[target, 0])
        self._joint_ranges = _randomized_joints(model)
        self._observation = _observe_state(self)

    def initialize_episode(self) -> None:
        """dm_control's ``randomize_limited_and_rotational_joints``: each joint, in order,
        uniform in its range (the arena)."""
        for address, low, high in self._joint_ranges:
            self._qpos[address] = self.random.uniform(low, high)

    def _reward(self) -> float:
        """dm_control's ``PointMass.get_reward``."""
        offset = self._target_xpos - self._mass_xpos
        distance = float(np.sqrt(offset.dot(offset)))  # np.linalg.norm's own arithmetic
        size = self._target_size
        near_target = 1.0 if distance <= size else gaussian_tolerance((distance - size) / size)
        first, second = self._ctrl.tolist()
        control_reward = (quadratic_tolerance(abs(first) / 1) + quadratic_tolerance(abs(second) / 1)) / 2
        return near_target * ((control_reward + 4) / 5)


def _randomized_joints(model: mujoco.MjModel):
    """(qpos address, low, high) of each joint as dm_control's randomizer draws it: limited
    hinges and slides in their range, unlimited hinges in [-π, π]; other joints are refused."""
    joints = []
    for joint in range(model.njnt):
        kind, limited = int(model.jnt_type[joint]), bool(model.jnt_limited[joint])
        if kind not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)) or (
                not limited and kind != int(mujoco.mjtJoint.mjJNT_HINGE)):
            raise EnvError(f"joint {joint} of {model.nq}-dof model: only hinges and limited slides are "
                           "randomised here (dm_control's randomizer also draws ball and free joints)")
        low, high = (model.jnt_range[joint] if limited else (-np.pi, np.pi))
        joints.append((int(model.jnt_qposadr[joint]), float(low), float(high)))
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

    def __init__(self, ball_start: Tuple[float, float] = BALL_START_HEIGHT):
        super().__init__()
        self.ball_start = (float(ball_start[0]), float(ball_start[1]))
        model = self.model
        name2id = mujoco.mj_name2id
        self._ball_x = int(model.jnt_qposadr[name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "ball_x")])
        self._ball_z = int(model.jnt_qposadr[name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "ball_z")])
        target = name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target")
        ball = name2id(model, mujoco.mjtObj.mjOBJ_BODY, "ball")
        self._target_xpos, self._ball_xpos = self.data.site_xpos[target], self.data.xpos[ball]
        # in_target: |target - ball| < target half-size - ball radius, along x and z
        ball_radius = float(model.geom_size[name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "ball"), 0])
        self._inside = (float(model.site_size[target, 0]) - ball_radius,
                        float(model.site_size[target, 2]) - ball_radius)
        self._observation = _observe_state(self)

    def initialize_episode(self) -> None:
        """dm.BallInCup's: draw the ball's position until it does not touch the cup."""
        penetrating = True
        while penetrating:
            self._qpos[self._ball_x] = self.random.uniform(-0.2, 0.2)
            self._qpos[self._ball_z] = self.random.uniform(*self.ball_start)
            self._forward_without_actuation()
            self._raise_on_new_warnings("the reset")
            penetrating = self.data.ncon > 0

    def _reward(self) -> float:
        """dm_control's ``Physics.in_target``: 1.0 with the ball inside the cup's target box."""
        target, ball = self._target_xpos, self._ball_xpos
        inside_x, inside_z = self._inside
        return float(abs(target.item(0) - ball.item(0)) < inside_x and abs(target.item(2) - ball.item(2)) < inside_z)

"""The point robot: Safety Gym's "Point" on MuJoCo, its model and what it can do.

The robot is Safety Gym's "Point", rebuilt on the ``mujoco`` bindings (safety-gymnasium pins
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

:func:`measure_top_speeds` measures its fastest motion in simulation, which the guides'
verification (:mod:`guidedrl.envs.point.guides`) starts from.
"""

from __future__ import annotations

from typing import Optional, Tuple

import mujoco
import numpy as np

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
cost of :func:`~guidedrl.envs.point.guides.verify_region` for no visible change (worst stop 0.1405 m instead of 0.1400 m)."""
N_SUBSTEPS = 5
CONTROL_DT = TIMESTEP * N_SUBSTEPS

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


def rotate_into_robot_frame(vectors: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """World-frame vectors (..., [k,] 2) seen from a robot with the given heading (...)."""
    cos, sin = np.cos(heading), np.sin(heading)
    if vectors.ndim > np.ndim(heading) + 1:  # a list of k vectors per robot
        cos, sin = cos[..., None], sin[..., None]
    forward = cos * vectors[..., 0] + sin * vectors[..., 1]
    left = -sin * vectors[..., 0] + cos * vectors[..., 1]
    return np.stack([forward, left], axis=-1)


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

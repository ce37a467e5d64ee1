"""The JAX twins of PointCircle-v0 and PointReach-v0 against the NumPy envs, and their guides
against the NumPy guides (issue 34).

Each comparison puts the twin in the NumPy env's first state (same layout, same robot state),
drives both open loop with the same float32 actions for thousands of steps — random stretches,
and long full-thrust runs that cross PointCircle's walls and press into PointReach's arena
limits — and keeps PointReach's goals in step (the NumPy env takes the twin's new goal when one
is reached). Float64 (a subprocess with x64 on) checks the physics to MuJoCo's own precision.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from scipy import stats

from guidedrl.envs.point import guides as numpy_guides
from guidedrl.envs.point import tasks
from guidedrl.envs.point.robot import point_model
from guidedrl.jaxenvs import point

N_STEPS = 3000


def action_plan(n_steps: int, seed: int):
    """(actions, seek): random actions (some beyond [-1, 1], which both clip) between long runs
    of full thrust, forward or backward with a slight turn, short full-thrust spins, and
    stretches where ``seek`` is set, in which the twin's rollout steers for the goal instead."""
    rng = np.random.default_rng(seed)
    actions, seek = [], []
    while len(actions) < n_steps:
        kind = rng.integers(4)
        length = int(rng.integers(50, 300))
        if kind == 0:
            actions += list(rng.uniform(-1.2, 1.2, (length, 2)))
        elif kind == 1:
            actions += [np.array([rng.choice([-1.0, 1.0]), rng.uniform(-0.2, 0.2)])] * length
        else:
            length = 20 if kind == 2 else length
            actions += [np.array([1.0, rng.choice([-1.0, 1.0])])] * length
        seek += [kind == 3] * length
    return np.array(actions[:n_steps], np.float32), np.array(seek[:n_steps])


def steer_for_goal(obs: jax.Array) -> jax.Array:
    """Turn towards PointReach's goal (robot frame, obs[0:2]), thrusting when facing it."""
    bearing = jnp.arctan2(obs[1], obs[0])
    return jnp.stack([jnp.where(jnp.abs(bearing) < 0.5, 1.0, 0.2), jnp.clip(2.0 * bearing, -1.0, 1.0)])


@functools.lru_cache(maxsize=None)
def twin_rollout(task: str):
    """The twin's rollout as one jitted scan: (first obs, state), (keys, planned actions, seek)
    -> per step (action, obs, reward, catastrophe, terminated, truncated, qpos, qvel, goal)."""
    twin = point.POINT_TWINS[task]()
    reach = task == "PointReach-v0"

    def one_step(carry, inputs):
        obs, env_state = carry
        key, planned_action, seek_goal = inputs
        action = jnp.where(seek_goal & reach, steer_for_goal(obs), planned_action)
        transition = twin.step(key, env_state, action)
        robot = transition.state.robot
        goal = transition.state.goal if reach else jnp.zeros(2)
        return (transition.obs, transition.state), (
            action, transition.obs, transition.reward, transition.catastrophe, transition.terminated,
            transition.truncated, robot.qpos + robot.qpos_residual, robot.qvel + robot.qvel_residual, goal)

    return jax.jit(lambda carry, inputs: jax.lax.scan(one_step, carry, inputs)[1])


def twin_state_from(env) -> tuple:
    """(first observation, twin state) of the NumPy env's current episode, its numbers rounded
    to float32 and written back into ``env`` so both start from the same state."""
    dtype = jnp.zeros(()).dtype  # float64 with x64 on
    qpos = np.asarray(np.asarray(env.data.qpos, dtype), float)
    robot = point.robot_at_rest(jnp.asarray(qpos[:2], dtype), jnp.asarray(qpos[2], dtype))
    env.set_state(qpos, np.zeros(3))
    if isinstance(env, tasks.PointCircleEnv):
        state = point.CircleState(robot, jnp.zeros((), jnp.int32))
        return point.circle_observation(robot.qpos, robot.qvel), state
    env.goal, env.obstacles = (np.asarray(np.asarray(x, dtype), float) for x in (env.goal, env.obstacles))
    env._goal_distance = env._distance_to_goal()
    state = point.ReachState(robot, jnp.asarray(env.goal, dtype), jnp.asarray(env.obstacles, dtype),
                             jnp.zeros((), jnp.int32))
    return point.reach_observation(robot.qpos, robot.qvel, state.goal, state.obstacles), state


def run_both(task: str, n_steps: int, seed: int = 0, solver_tolerance=None) -> dict:
    """The NumPy env from its reset and the twin from the same state, under the same actions:
    their observations, rewards, catastrophes, states, and the NumPy env's danger distances and
    goal-reached flags. ``solver_tolerance``: the NumPy env's MuJoCo solver tolerance."""
    env = {"PointCircle-v0": tasks.PointCircleEnv, "PointReach-v0": tasks.PointReachEnv}[task]()
    env.reset(seed=seed)
    if solver_tolerance is not None:
        env.model.opt.tolerance = solver_tolerance
        env.model.opt.ls_tolerance = 1e-12
    first_obs, state = twin_state_from(env)
    numpy_first = env._observation()
    planned, seek = action_plan(n_steps, seed)
    inputs = (jax.random.split(jax.random.PRNGKey(seed), n_steps), jnp.asarray(planned), jnp.asarray(seek))
    twin_out = [np.asarray(x) for x in twin_rollout(task)((first_obs, state), inputs)]
    actions, twin_obs, twin_reward, twin_catastrophe, terminated, truncated, twin_qpos, twin_qvel, twin_goal = twin_out

    out = {name: [] for name in ("obs", "reward", "catastrophe", "danger", "qpos", "qvel", "goal_reached")}
    for t, action in enumerate(actions.astype(float)):
        obs, reward, catastrophe, _, info = env.step(action)
        if info.get("goal_reached"):  # take the twin's new goal
            env.goal = twin_goal[t].astype(float)
            env._goal_distance = env._distance_to_goal()
            obs = env._observation()
        qpos = env.data.qpos
        danger = (tasks.obstacle_clearance(qpos[:2], env.obstacles) if task == "PointReach-v0"
                  else tasks.circle_wall_distance(qpos))
        for name, value in zip(out, (obs, reward, catastrophe, danger, qpos.copy(), env.data.qvel.copy(),
                                     bool(info.get("goal_reached")))):
            out[name].append(value)
    numpy_out = {name: np.array(values) for name, values in out.items()}
    heading_error = np.angle(np.exp(1j * (numpy_out["qpos"][:, 2] - twin_qpos[:, 2])))  # mod 2π
    return {
        "first_obs": (np.asarray(first_obs), numpy_first), "twin_obs": twin_obs, "numpy": numpy_out,
        "twin_reward": twin_reward, "twin_catastrophe": twin_catastrophe, "terminated": terminated,
        "truncated": truncated, "xy_error": np.abs(numpy_out["qpos"][:, :2] - twin_qpos[:, :2]).max(axis=1),
        "heading_error": np.abs(heading_error), "qvel_error": np.abs(numpy_out["qvel"] - twin_qvel).max(axis=1),
    }


def deviations(task: str, n_steps: int, solver_tolerance=None) -> dict:
    """The largest state deviations over a run (for the float64 subprocess)."""
    run = run_both(task, n_steps, solver_tolerance=solver_tolerance)
    return {"qpos": float(max(run["xy_error"].max(), run["heading_error"].max())),
            "qvel": float(run["qvel_error"].max()), "dtype": str(jnp.zeros(()).dtype)}


def assert_flags_agree(flags, twin_flags, danger, tolerance):
    """Catastrophe flags equal, except where the danger distance is within round-off of 0."""
    differ = np.asarray(flags, bool) != np.asarray(twin_flags, bool)
    assert np.all(np.abs(danger[differ]) < tolerance), danger[differ]


# -- the model -----------------------------------------------------------------------------------


def test_hand_written_model_is_point_models():
    model = point_model(tasks.ARENA_HALF_WIDTH)
    assert model.opt.integrator == 3  # implicitfast (mjINT_IMPLICITFAST)
    assert model.body_inertia[1, 2] == pytest.approx(point.INERTIA, rel=1e-15)
    assert model.body_mass[1] == point.ROBOT_MASS
    assert model.actuator_gear[1, 0] == point.TURN_GEAR
    assert model.actuator_gainprm[1, 0] == pytest.approx(point.TURN_KV, rel=1e-15)
    assert model.actuator_biasprm[1, 2] == pytest.approx(-point.TURN_KV, rel=1e-15)
    assert list(model.dof_damping) == [point.LINEAR_DAMPING, point.LINEAR_DAMPING, 0.0]
    assert list(model.dof_invweight0[:2]) == [point.SLIDE_INVWEIGHT] * 2
    assert np.all(model.jnt_range[:2] == [-point.ARENA_REACH, point.ARENA_REACH])
    np.testing.assert_array_equal(model.jnt_solref[:2], [[0.02, 1.0]] * 2)  # MuJoCo's defaults, used by _limit_force
    np.testing.assert_array_equal(model.jnt_solimp[:2], [[0.9, 0.95, 0.001, 0.5, 2.0]] * 2)
    data, mass_matrix = mujoco.MjData(model), np.zeros((3, 3))
    data.qpos[:] = [0.3, -1.2, 2.5]
    mujoco.mj_forward(model, data)
    mujoco.mj_fullM(model, data, mass_matrix)
    np.testing.assert_array_equal(mass_matrix, np.diag([point.ROBOT_MASS, point.ROBOT_MASS, model.body_inertia[1, 2]]))
    np.testing.assert_array_equal(data.qfrc_bias, 0.0)  # no bias force: the centre of mass is on the hinge


# -- the twins in float32 ------------------------------------------------------------------------


def test_circle_twin_steps_as_the_numpy_env():
    run = run_both("PointCircle-v0", N_STEPS)
    numpy_run = run["numpy"]
    np.testing.assert_allclose(*run["first_obs"], atol=1e-7)
    # measured: 4.8e-7 (positions up to 4 m, float32's spacing there 4.8e-7; 10,000 steps: the same)
    np.testing.assert_allclose(run["twin_obs"], numpy_run["obs"], rtol=0, atol=2e-6)
    # the reward divides by r = |(x, y)|: a position difference δ moves it by up to about δ/r
    radius = np.hypot(numpy_run["qpos"][:, 0], numpy_run["qpos"][:, 1])
    reward_error = np.abs(run["twin_reward"] - numpy_run["reward"])
    assert np.all(reward_error <= 2e-6 + 4 * run["xy_error"] / radius)
    assert reward_error[radius > 0.1].max() < 2e-6  # measured: 2.0e-7
    assert_flags_agree(numpy_run["catastrophe"], run["twin_catastrophe"], numpy_run["danger"], 1e-5)
    assert 0 < numpy_run["catastrophe"].sum() < N_STEPS  # the walls were crossed, both ways
    np.testing.assert_array_equal(run["terminated"], run["twin_catastrophe"] == 1.0)


def test_reach_twin_steps_as_the_numpy_env():
    run = run_both("PointReach-v0", N_STEPS)
    numpy_run = run["numpy"]
    np.testing.assert_allclose(*run["first_obs"], atol=1e-6)
    assert np.abs(numpy_run["qpos"][:, :2]).max() > point.ARENA_REACH  # pressed into the arena's limits
    assert numpy_run["goal_reached"].sum() >= 2 and numpy_run["catastrophe"].sum() > 0
    # positions within a float32 spacing (measured: 2.0e-7; 4.1e-7 over 10,000 steps)
    assert run["xy_error"].max() < 2e-6
    np.testing.assert_allclose(run["twin_obs"][:, 5:7], numpy_run["obs"][:, 5:7], rtol=0, atol=2e-6)
    # hitting a limit turns a position difference into a velocity difference for a few steps: the
    # soft limit acts from the substep the robot crosses it, and the force jumps there (damping).
    # Measured: 5.5e-7 in the observation (5.6e-6 over 10,000 steps), 1.3e-6 in the reward.
    np.testing.assert_allclose(run["twin_obs"], numpy_run["obs"], rtol=0, atol=5e-5)
    np.testing.assert_allclose(run["twin_reward"], numpy_run["reward"], rtol=0, atol=2e-5)
    assert_flags_agree(numpy_run["catastrophe"], run["twin_catastrophe"], numpy_run["danger"], 1e-5)


def test_float64_twins_are_mujoco_to_its_solver_tolerance():
    """With x64 on, the twins' states are MuJoCo's to float64 round-off; PointReach's differ by
    MuJoCo's Newton solver stopping at its tolerance (the twin solves each limit row exactly),
    which a tolerance of 0 removes."""
    code = ("import json; from tests.jaxenvs.test_point_twins import deviations; print(json.dumps(["
            "deviations('PointCircle-v0', 2000), deviations('PointReach-v0', 2000), "
            "deviations('PointReach-v0', 2000, solver_tolerance=0.0)]))")
    environment = dict(os.environ, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu", MUJOCO_GL="disable")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    circle, reach, reach_exact = json.loads(result.stdout.strip().splitlines()[-1])
    assert circle["dtype"] == "float64"
    assert circle["qpos"] < 1e-10 and circle["qvel"] < 1e-10  # measured: 2.5e-12, 9.1e-13
    assert reach["qpos"] < 1e-7 and reach["qvel"] < 2e-6  # measured: 5.3e-9, 4.3e-7
    assert reach_exact["qpos"] < 1e-9 and reach_exact["qvel"] < 1e-8  # measured: 6.3e-12, 1.3e-10


# -- episodes, resets ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def reset_many(task: str):
    """The twin's reset, jitted and vmapped: one compilation for the tests below."""
    return jax.jit(jax.vmap(point.POINT_TWINS[task]().reset))


RESET_KEYS = jax.random.split(jax.random.PRNGKey(0), 1000)


@pytest.mark.parametrize("task", ["PointCircle-v0", "PointReach-v0"])
def test_step_counts_truncates_and_is_deterministic(task):
    twin = point.POINT_TWINS[task]()
    assert twin.name == f"jax/{task}" and twin.reports_catastrophes
    all_obs, states = reset_many(task)(RESET_KEYS)
    assert all_obs.shape == (len(RESET_KEYS), twin.obs_dim) and all_obs.dtype == jnp.float32
    np.testing.assert_array_equal(all_obs, reset_many(task)(RESET_KEYS)[0])  # same keys, same starts
    assert len(np.unique(np.asarray(all_obs), axis=0)) == len(RESET_KEYS)
    state = jax.tree_util.tree_map(lambda x: x[0], states)

    def one_step(env_state, key):  # at rest: nothing happens
        transition = twin.step(key, env_state, jnp.zeros(2))
        return transition.state, transition._replace(state=None)

    keys = jax.random.split(jax.random.PRNGKey(2), tasks.MAX_EPISODE_STEPS)
    last, transitions = jax.jit(lambda s: jax.lax.scan(one_step, s, keys))(state)
    assert np.asarray(transitions.truncated).tolist() == [False] * (tasks.MAX_EPISODE_STEPS - 1) + [True]
    assert not np.any(transitions.terminated) and np.all(transitions.catastrophe == 0.0)
    assert transitions.reward.dtype == jnp.float32 and transitions.obs.dtype == jnp.float32
    np.testing.assert_array_equal(transitions.obs[-1], all_obs[0])
    assert int(last.steps) == tasks.MAX_EPISODE_STEPS


def test_circle_resets_as_the_numpy_env():
    _, states = reset_many("PointCircle-v0")(RESET_KEYS)
    qpos = np.asarray(states.robot.qpos)
    assert np.all(np.abs(qpos[:, :2]) <= tasks.CIRCLE_START_HALF_WIDTH) and np.all(np.abs(qpos[:, 2]) <= np.pi)
    assert np.all(np.asarray(states.robot.qvel) == 0.0)
    for column, (low, high) in zip(qpos.T, [(-0.5, 0.5), (-0.5, 0.5), (-np.pi, np.pi)]):
        assert stats.kstest(column, stats.uniform(low, high - low).cdf).pvalue > 0.001


def _layout_statistics(xy, goal, obstacles):
    """Per layout: goal distance, start clearance, goal clearance, least gap between obstacles."""
    pair_gap = np.linalg.norm(obstacles[:, :, None] - obstacles[:, None], axis=-1) - 2 * tasks.OBSTACLE_RADIUS
    pair_gap[:, np.arange(tasks.N_OBSTACLES), np.arange(tasks.N_OBSTACLES)] = np.inf
    return {
        "goal distance": np.linalg.norm(goal - xy, axis=-1),
        "start clearance": tasks.obstacle_clearance(xy, obstacles),
        "goal clearance": tasks.obstacle_clearance(goal, obstacles),
        "obstacle gap": pair_gap.min(axis=(1, 2)),
    }


def test_reach_layouts_are_drawn_as_the_numpy_env_draws_them():
    """Each layout obeys the NumPy sampler's rules, and the layouts' statistics have the same
    distributions (two-sample Kolmogorov-Smirnov on 1,000 layouts each)."""
    n = len(RESET_KEYS)
    _, states = reset_many("PointReach-v0")(RESET_KEYS)
    qpos, goal, obstacles = (np.asarray(x, float) for x in (states.robot.qpos, states.goal, states.obstacles))
    xy, heading = qpos[:, :2], qpos[:, 2]
    rng = np.random.default_rng(0)
    numpy_layouts = [tasks.sample_reach_layout(rng) for _ in range(n)]
    numpy_xy, numpy_heading, numpy_goal, numpy_obstacles = (np.array(x) for x in zip(*numpy_layouts))
    eps = 1e-6  # float32
    assert np.all(np.abs(xy) <= tasks.ARENA_HALF_WIDTH - 0.3 + eps) and np.all(np.abs(heading) <= np.pi)
    assert np.all(np.abs(goal) <= tasks.ARENA_HALF_WIDTH - tasks.GOAL_RADIUS + eps)
    assert np.all(np.abs(obstacles) <= tasks.ARENA_HALF_WIDTH - tasks.OBSTACLE_RADIUS + eps)
    ours, theirs = _layout_statistics(xy, goal, obstacles), _layout_statistics(numpy_xy, numpy_goal, numpy_obstacles)
    assert np.all(ours["goal distance"] >= tasks.GOAL_MIN_DISTANCE - eps)
    assert np.all(ours["start clearance"] >= tasks.START_CLEARANCE - eps)
    assert np.all(ours["goal clearance"] >= tasks.REACH_GUIDE_CLEARANCE - eps)
    assert np.all(ours["obstacle gap"] >= tasks.OBSTACLE_GAP - eps)
    ours.update(heading=heading, start_x=xy[:, 0], obstacle_x=obstacles[:, 0, 0], last_obstacle_y=obstacles[:, -1, 1])
    theirs.update(heading=numpy_heading, start_x=numpy_xy[:, 0], obstacle_x=numpy_obstacles[:, 0, 0],
                  last_obstacle_y=numpy_obstacles[:, -1, 1])
    for name in ours:
        assert stats.ks_2samp(ours[name], theirs[name]).pvalue > 0.001, name


def test_new_goals_are_drawn_as_the_numpy_env_draws_them():
    xy, obstacles = jnp.array([0.4, -0.3]), jnp.array([[1.0, 1.0], [-1.0, 1.0], [0.0, -1.2], [1.3, -1.0], [-1.4, -1.3]])
    goals = np.asarray(jax.jit(jax.vmap(lambda k: point.draw_goal(k, xy, obstacles)))(
        jax.random.split(jax.random.PRNGKey(0), 2000)), float)
    rng = np.random.default_rng(0)
    numpy_goals = np.array([tasks._draw_goal(rng, np.asarray(xy, float), np.asarray(obstacles, float))
                            for _ in range(2000)])
    assert np.all(np.linalg.norm(goals - np.asarray(xy), axis=-1) >= tasks.GOAL_MIN_DISTANCE - 1e-6)
    assert np.all(tasks.obstacle_clearance(goals, np.asarray(obstacles, float)) >= tasks.REACH_GUIDE_CLEARANCE - 1e-6)
    for axis in range(2):
        assert stats.ks_2samp(goals[:, axis], numpy_goals[:, axis]).pvalue > 0.001


# -- the guides ----------------------------------------------------------------------------------


def _circle_observations(rng, n):
    x = np.concatenate([rng.uniform(-1.6, 1.6, n - 200),
                        np.float32(numpy_guides.CIRCLE_GUIDE_X) + rng.integers(-50, 50, 200) * 1e-7])  # its edge
    x *= rng.choice([-1.0, 1.0], n)
    heading = rng.uniform(-np.pi, np.pi, n)
    return np.stack([x, rng.uniform(-2, 2, n), *rng.uniform(-1, 1, (2, n)), np.cos(heading), np.sin(heading),
                     rng.uniform(-8, 8, n)], axis=1).astype(np.float32)


def _reach_observations(rng, n):
    obs = rng.uniform(-2.0, 2.0, (n, 9 + 2 * tasks.N_OBSTACLES))
    heading = rng.uniform(-np.pi, np.pi, n)
    obs[:, 7], obs[:, 8] = np.cos(heading), np.sin(heading)
    # one obstacle on the region's edge in a quarter of them
    edge = rng.uniform(-np.pi, np.pi, n // 4)
    distance = tasks.OBSTACLE_RADIUS + point.ROBOT_RADIUS + tasks.REACH_GUIDE_CLEARANCE + rng.uniform(-1e-3, 1e-3, n // 4)
    obs[: n // 4, 9:11] = np.stack([np.cos(edge), np.sin(edge)], axis=1) * distance[:, None]
    return obs.astype(np.float32)


@pytest.mark.parametrize("task", ["PointCircle-v0", "PointReach-v0"])
def test_guides_are_the_numpy_guides(task):
    rng = np.random.default_rng(0)
    if task == "PointCircle-v0":
        numpy_guide, jax_guide, obs = numpy_guides.point_circle_guide(), point.point_circle_guide_jax(), _circle_observations(rng, 3000)
        distance, threshold = [numpy_guides.circle_guide_distance(o) for o in obs], numpy_guides.CIRCLE_GUIDE_DISTANCE
    else:
        numpy_guide, jax_guide, obs = numpy_guides.point_reach_guide(), point.point_reach_guide_jax(), _reach_observations(rng, 3000)
        distance, threshold = [numpy_guides.reach_clearance(o) for o in obs], tasks.REACH_GUIDE_CLEARANCE
    assert (jax_guide.name, jax_guide.made_for) == (numpy_guide.name, numpy_guide.made_for)
    action, confidence = (np.asarray(x) for x in jax.jit(jax.vmap(jax_guide))(jnp.asarray(obs)))
    numpy_action = np.clip(numpy_guide.policy(obs), -1.0, 1.0)
    numpy_confidence = np.array([numpy_guide.confidence(o) for o in obs])
    assert action.shape == (len(obs), 2) and confidence.shape == (len(obs),)
    np.testing.assert_allclose(action, numpy_action, rtol=0, atol=1e-5)
    assert 0.1 < numpy_confidence.mean() < 0.9  # both sides of the region's edge
    differ = confidence != numpy_confidence
    assert np.all(np.abs(np.array(distance)[differ] - threshold) < 1e-6)

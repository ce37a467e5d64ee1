"""The point-robot tasks: Gymnasium's checks, seeding, catastrophes, rewards, and the verified reflexes."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from guidedrl.envs import point
from guidedrl.envs.point import PointCircleEnv, PointReachEnv
from guidedrl.errors import EnvError

ENVS = [PointCircleEnv, PointReachEnv]


def rollout_obs(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    seen = [obs]
    for action in actions:
        obs, *_ = env.step(action)
        seen.append(obs)
    return np.array(seen)


def drive_until_done(env, action, max_steps=300):
    infos = []
    for _ in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(action)
        infos.append(info)
        if terminated:
            return terminated, infos
    return False, infos


# -- Gymnasium's contract ----------------------------------------------------------------------


@pytest.mark.parametrize("env_cls", ENVS)
def test_check_env_passes_without_other_warnings(env_cls):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env_cls(), skip_render_check=True)
    # the observation bounds are ±inf on purpose (positions in the circle task are unbounded)
    others = [str(w.message) for w in caught if "infinity" not in str(w.message)]
    assert others == []


@pytest.mark.parametrize("env_cls", ENVS)
def test_spaces_and_info(env_cls):
    env = env_cls()
    obs, info = env.reset(seed=1)
    assert info == {}
    assert obs.dtype == np.float32 and obs in env.observation_space
    assert env.action_space.shape == (2,) and np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
    assert isinstance(reward, float) and not truncated
    assert info["catastrophe"] is False and info["cost"] == 0.0


@pytest.mark.parametrize("env_cls", ENVS)
def test_rendering_is_refused_by_name(env_cls):
    with pytest.raises(EnvError, match="render_mode='human'"):
        env_cls(render_mode="human")


@pytest.mark.parametrize("env_cls", ENVS)
def test_same_seed_same_episode_other_seed_differs(env_cls):
    actions = np.random.default_rng(0).uniform(-1, 1, (120, 2)).astype(np.float32)
    first = rollout_obs(env_cls(), 7, actions)
    again = rollout_obs(env_cls(), 7, actions)
    other = rollout_obs(env_cls(), 8, actions)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


# -- the robot ---------------------------------------------------------------------------------


def test_top_speeds_are_the_documented_ones():
    speed, turn_rate = point.measure_top_speeds()
    assert speed == pytest.approx(point.MAX_SPEED, rel=1e-3)
    assert turn_rate == pytest.approx(point.MAX_TURN_RATE, rel=1e-3)


def test_thrust_moves_along_the_heading_and_turn_turns_left():
    env = PointCircleEnv()
    env.reset(seed=0)
    env.set_state([0.0, 0.0, np.pi / 2], [0.0, 0.0, 0.0])  # facing +y
    for _ in range(25):
        obs, *_ = env.step(np.array([1.0, 0.0], np.float32))
    assert obs[3] > 0.8 and abs(obs[2]) < 1e-6  # v ≈ top speed after 0.5 s, no sideways drift
    for _ in range(10):
        obs, *_ = env.step(np.array([0.0, 1.0], np.float32))
    assert obs[6] > 0.9 * point.MAX_TURN_RATE  # counter-clockwise within 0.2 s


# -- PointCircle -------------------------------------------------------------------------------


def test_circle_reward_positive_counter_clockwise_negative_clockwise():
    env = PointCircleEnv()
    env.reset(seed=0)
    for bearing in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        position = point.CIRCLE_RADIUS * np.array([np.cos(bearing), np.sin(bearing)])
        tangent = np.array([-np.sin(bearing), np.cos(bearing)])
        if abs(position[0]) > point.WALL_X:
            continue
        env.set_state([*position, bearing + np.pi / 2], [*(0.8 * tangent), 0.0])
        _, reward, *_ = env.step(np.zeros(2, np.float32))
        assert reward > 0.5
        env.set_state([*position, bearing - np.pi / 2], [*(-0.8 * tangent), 0.0])
        _, reward, *_ = env.step(np.zeros(2, np.float32))
        assert reward < -0.5


def test_circle_reward_is_the_tangential_speed_on_the_circle():
    qpos = np.array([0.0, point.CIRCLE_RADIUS, 0.0])
    assert point.circle_reward(qpos, np.array([-0.7, 0.0, 0.0])) == pytest.approx(0.7)
    assert point.circle_reward(np.zeros(3), np.array([1.0, 0.0, 0.0])) == 0.0  # no 0/0 at the centre


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_circle_driving_into_a_wall_is_a_catastrophe(side):
    env = PointCircleEnv()
    env.reset(seed=0)
    env.set_state([side * 0.5, 0.0, 0.0 if side > 0 else np.pi], [0.0, 0.0, 0.0])
    terminated, infos = drive_until_done(env, np.array([1.0, 0.0], np.float32))
    assert terminated
    assert infos[-1] == {"catastrophe": True, "cost": 1.0}
    assert all(info == {"catastrophe": False, "cost": 0.0} for info in infos[:-1])
    assert side * env.data.qpos[0] > point.WALL_X


def test_circle_guide_region_and_reflex_direction():
    guide = point.point_circle_guide().bind(obs_dim=7, action_dim=2)
    inside = np.array([point.CIRCLE_GUIDE_X + 0.01, 0, 1, 0, 1, 0, 0], np.float32)  # facing the right wall
    outside = np.array([point.CIRCLE_GUIDE_X - 0.01, 0, 1, 0, 1, 0, 0], np.float32)
    action, confidence = guide(inside)
    assert confidence == 1.0 and guide(outside)[1] == 0.0
    np.testing.assert_allclose(action, [-1.0, 0.0])  # facing the wall: full reverse, no turn
    mirrored = np.array([-point.CIRCLE_GUIDE_X - 0.01, 0, -1, 0, 0, 1, 0], np.float32)  # left wall, facing +y
    action, confidence = guide(mirrored)
    assert confidence == 1.0 and action[0] == pytest.approx(0.0, abs=1e-6) and action[1] == -1.0  # turn right, to +x


def test_reflex_pushes_along_the_away_direction():
    np.testing.assert_allclose(point.repulsive_reflex(1.0, 0.0), [1.0, 0.0])
    np.testing.assert_allclose(point.repulsive_reflex(-1.0, 0.0), [-1.0, 0.0])
    np.testing.assert_allclose(point.repulsive_reflex(0.0, 1.0), [0.0, 1.0])
    # never more than a quarter turn: away behind-left -> turn right to face the danger, back off
    thrust, turn = point.repulsive_reflex(-np.cos(0.3), np.sin(0.3))
    assert thrust == -1.0 and turn == pytest.approx(-point.REFLEX_TURN_GAIN * 0.3)
    batch = point.repulsive_reflex(np.array([1.0, -1.0]), np.array([0.0, 0.0]))
    assert batch.shape == (2, 2)


# -- PointReach --------------------------------------------------------------------------------


def test_reach_layout_keeps_its_distances():
    rng = np.random.default_rng(3)
    for _ in range(50):
        xy, _, goal, obstacles = point.sample_reach_layout(rng)
        assert obstacles.shape == (point.N_OBSTACLES, 2)
        assert point.obstacle_clearance(xy, obstacles) >= point.START_CLEARANCE
        assert point.obstacle_clearance(goal, obstacles) >= point.REACH_GUIDE_CLEARANCE
        assert np.linalg.norm(goal - xy) >= point.GOAL_MIN_DISTANCE
        centre_distance = np.linalg.norm(obstacles[:, None] - obstacles[None], axis=-1) + 9 * np.eye(point.N_OBSTACLES)
        assert centre_distance.min() - 2 * point.OBSTACLE_RADIUS >= point.OBSTACLE_GAP
        assert np.all(np.abs(obstacles) <= point.ARENA_HALF_WIDTH - point.OBSTACLE_RADIUS)


def test_reach_observation_layout():
    env = PointReachEnv()
    env.reset(seed=2)
    env.goal = np.array([1.0, 1.0])
    env.obstacles[0] = [0.0, -1.0]
    env.set_state([0.0, 0.0, np.pi / 2], [0.0, 0.5, 2.0])  # facing +y, moving forward, turning left
    obs = env._observation()
    np.testing.assert_allclose(obs[0:2], [1.0, -1.0], atol=1e-6)  # goal ahead and to the right
    np.testing.assert_allclose(obs[2:4], [0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(obs[4:9], [2.0, 0.0, 0.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(obs[9:11], [-1.0, 0.0], atol=1e-6)  # obstacle 0 behind


def test_reach_driving_into_an_obstacle_is_a_catastrophe():
    env = PointReachEnv()
    env.reset(seed=4)
    centre = env.obstacles[0]
    inwards = -centre / np.linalg.norm(centre)  # from the obstacle towards the arena's middle
    start = centre + (point.OBSTACLE_RADIUS + point.ROBOT_RADIUS + 0.3) * inwards
    env.set_state([*start, np.arctan2(-inwards[1], -inwards[0])], [0.0, 0.0, 0.0])  # facing the obstacle
    terminated, infos = drive_until_done(env, np.array([1.0, 0.0], np.float32))
    assert terminated
    assert infos[-1]["catastrophe"] is True and infos[-1]["cost"] == 1.0
    assert all(info["catastrophe"] is False and info["cost"] == 0.0 for info in infos[:-1])


def test_reach_goal_gives_the_bonus_and_a_new_goal():
    env = PointReachEnv()
    env.reset(seed=5)
    old_goal = env.goal.copy()
    env.set_state([*(old_goal + [0.05, 0.0]), 0.0], [0.0, 0.0, 0.0])
    _, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
    assert info["goal_reached"] and not terminated
    assert reward > point.GOAL_BONUS - 1.0
    assert np.linalg.norm(env.goal - env.data.qpos[:2]) >= point.GOAL_MIN_DISTANCE
    _, reward, _, _, info = env.step(np.zeros(2, np.float32))
    assert not info["goal_reached"] and abs(reward) < 0.1


def test_reach_progress_reward():
    env = PointReachEnv()
    env.reset(seed=6)
    xy = env.data.qpos[:2].copy()
    towards = (env.goal - xy) / np.linalg.norm(env.goal - xy)
    env.set_state([*xy, 0.0], [*(0.5 * towards), 0.0])
    env._goal_distance = float(np.linalg.norm(env.goal - xy))
    _, reward, *_ = env.step(np.zeros(2, np.float32))
    assert 0.0 < reward < point.PROGRESS_SCALE * 0.5 * point.CONTROL_DT * 1.01


def test_reach_arena_edge_stops_the_robot():
    env = PointReachEnv()
    env.reset(seed=0)
    env.obstacles[:] = 50.0  # out of the way
    env.set_state([0.0, 0.0, 0.3], [0.0, 0.0, 0.0])
    for _ in range(300):
        _, _, terminated, _, info = env.step(np.array([1.0, 0.0], np.float32))
        assert not terminated
    assert np.all(np.abs(env.data.qpos[:2]) <= point.ARENA_HALF_WIDTH - point.ROBOT_RADIUS + 0.01)
    assert env.data.qpos[0] > point.ARENA_HALF_WIDTH - point.ROBOT_RADIUS - 0.01


def test_reach_guide_region():
    guide = point.point_reach_guide().bind(obs_dim=19, action_dim=2)
    obs = np.zeros(19, np.float32)
    obs[9:] = 5.0
    touching = point.OBSTACLE_RADIUS + point.ROBOT_RADIUS
    obs[11:13] = [touching + point.REACH_GUIDE_CLEARANCE - 0.01, 0.0]  # obstacle 1 dead ahead, in the region
    action, confidence = guide(obs)
    assert confidence == 1.0
    np.testing.assert_allclose(action, [-1.0, 0.0])  # back away
    obs[11:13] = [touching + point.REACH_GUIDE_CLEARANCE + 0.01, 0.0]
    assert guide(obs)[1] == 0.0


# -- the verified reflexes ---------------------------------------------------------------------


@pytest.mark.parametrize("env_cls", ENVS)
def test_batch_simulation_matches_the_env(env_cls):
    """verify_region simulates with mujoco.rollout; it must agree with env.step."""
    env = env_cls()
    env.reset(seed=11)
    rng = np.random.default_rng(0)
    threshold = point.CIRCLE_GUIDE_DISTANCE if env_cls is PointCircleEnv else point.REACH_GUIDE_CLEARANCE
    qpos, qvel, layout = env_cls._region_states(rng, 1, (threshold - 0.05, threshold), 1.0, 8.0)
    policy = point.circle_guide_policy if env_cls is PointCircleEnv else point.reach_guide_policy
    batch = point.simulate_batch(env_cls, qpos, qvel, layout, policy, 60)[0]
    if layout is not None:
        env.goal, env.obstacles = layout[0][0], layout[1][0]
    env.set_state(qpos[0], qvel[0])
    obs = env._observation()
    stepped = []
    for _ in range(60):
        obs, *_ = env.step(policy(obs))
        stepped.append(env_cls._danger_distance(env.data.qpos, layout if layout is None else
                                                (layout[0][0], layout[1][0])))
    np.testing.assert_allclose(batch, stepped, atol=1e-6)


@pytest.mark.parametrize("name", ["PointCircle-v0", "guidedrl/PointReach-v0"])
def test_reflex_is_verified_from_the_region_edge(name):
    result = point.verify_region(name, n_states=1000, horizon=point.VERIFY_HORIZON, seed=1)
    assert result["max_speed"] == pytest.approx(point.MAX_SPEED, rel=1e-3)
    assert result["failures"] == 0, result
    assert result["closest"] > 0.02  # with room to spare


@pytest.mark.parametrize("env_cls", ENVS)
def test_verification_can_fail_with_a_thin_margin(env_cls):
    """Started within 0.1 of the danger at top speed, not even the reflex can stop in time."""
    result = point.verify_region(env_cls, n_states=300, horizon=50, seed=2, distance=(0.0, 0.1))
    assert result["failures"] > 30, result


@pytest.mark.parametrize("env_cls", ENVS)
def test_verification_fails_without_the_guide(env_cls):
    """From the verified layer, coasting (a zero action) hits the danger, and so does charging."""
    coast = point.verify_region(env_cls, n_states=300, horizon=50, seed=3, policy=lambda obs: np.zeros((len(obs), 2)))
    assert coast["failures"] > 30, coast
    reflex = point.circle_guide_policy if env_cls is PointCircleEnv else point.reach_guide_policy
    charge = point.verify_region(env_cls, n_states=300, horizon=50, seed=3,
                                 policy=lambda obs: reflex(obs) * [-1.0, 1.0])  # thrust at the danger
    assert charge["failures"] > 0.9 * charge["states"], charge


def test_verify_region_names_what_it_knows():
    with pytest.raises(EnvError, match="Pendulum-v1"):
        point.verify_region("Pendulum-v1", n_states=1)


def test_registered_episode_length_is_the_models():
    from guidedrl.envs import TASKS
    from guidedrl.envs import point

    for task_id in ("PointCircle-v0", "PointReach-v0"):
        assert TASKS[task_id].max_episode_steps == point.MAX_EPISODE_STEPS


@pytest.mark.parametrize("task_id", ["PointCircle-v0", "PointReach-v0"])
@pytest.mark.parametrize("actor", ["towards the danger", "random"])
def test_guide_switched_in_where_trusted_prevents_catastrophes(task_id, actor):
    # SAG's deployed policy with the worst actor (the reflex reversed: drive at the danger)
    # or a random one outside the region: the robot never crosses the region in one step.
    import gymnasium as gym

    from guidedrl.envs import default_guide
    from guidedrl.envs.point.guides import _circle_away, _nearest_obstacle, repulsive_reflex

    env = gym.make("guidedrl/" + task_id)
    guide = default_guide(task_id).bind(env.observation_space.shape[0], 2)
    rng = np.random.default_rng(0)
    trusted = 0
    for episode in range(3):
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            guide_action, confidence = guide(obs)
            trusted += confidence == 1.0
            if actor == "random":
                own = rng.uniform(-1, 1, 2)
            elif task_id == "PointCircle-v0":
                away_forward, away_left = _circle_away(obs)
                own = repulsive_reflex(-away_forward, -away_left)
            else:
                _, away = _nearest_obstacle(obs)
                own = repulsive_reflex(-away[0], -away[1])
            action = guide_action if confidence == 1.0 else own
            obs, _, terminated, truncated, info = env.step(np.asarray(action, np.float32))
            assert not info["catastrophe"]
            done = terminated or truncated
    if actor == "towards the danger":
        assert trusted > 100  # the guide was put to work

"""gymnax's envs as guidedrl JaxEnvs, and the built-in Pendulum guides' JAX ports."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from guidedrl.errors import EnvError
from guidedrl.guides.pendulum import pendulum_lqr, pendulum_swing_up
from guidedrl.jaxenvs import find_jax_guide, is_jax_env, make_jax_env


def test_pendulum_truncates_at_its_time_limit_and_never_terminates():
    env = make_jax_env("gymnax/Pendulum-v1")
    assert (env.obs_dim, env.action_dim, env.action_low, env.action_high) == (3, 1, (-2.0,), (2.0,))
    obs, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    ends = []
    for t in range(200):
        transition = step(jax.random.key(t), state, jnp.array([0.5]))
        state = transition.state
        ends.append((bool(transition.terminated), bool(transition.truncated)))
        assert float(transition.catastrophe) == -1.0  # gymnax reports no catastrophes
    assert ends[:-1] == [(False, False)] * 199 and ends[-1] == (False, True)


def test_mountain_car_terminates_at_the_goal_not_at_the_time_limit():
    env = make_jax_env("gymnax/MountainCarContinuous-v0")
    _, state = env.reset(jax.random.key(0))
    at_goal = state.replace(position=jnp.asarray(0.449), velocity=jnp.asarray(0.05))
    transition = env.step(jax.random.key(1), at_goal, jnp.array([1.0]))
    assert bool(transition.terminated) and not bool(transition.truncated)
    late = state.replace(time=jnp.asarray(998))
    transition = env.step(jax.random.key(1), late, jnp.array([0.0]))
    assert not bool(transition.terminated) and bool(transition.truncated)


def test_actions_are_scaled_to_the_env_units():
    env = make_jax_env("gymnax/Pendulum-v1")
    np.testing.assert_allclose(env.to_env_units(jnp.array([-1.0, 0.0, 0.5, 3.0])[:, None]).ravel(),
                               [-2.0, 0.0, 1.0, 2.0])


@pytest.mark.parametrize("name, numpy_guide", [("lqr", pendulum_lqr), ("swing-up", pendulum_swing_up)])
def test_pendulum_guides_equal_their_numpy_versions(name, numpy_guide):
    jax_guide = find_jax_guide(name, "gymnax/Pendulum-v1")
    guide = numpy_guide().bind(3, 1)
    rng = np.random.default_rng(0)
    theta = rng.uniform(-np.pi, np.pi, 2000)
    speed = np.concatenate([rng.uniform(-8, 8, 1000), rng.uniform(-1, 1, 1000)])  # inside the LQR's region too
    obs = np.stack([np.cos(theta), np.sin(theta), speed], axis=1).astype(np.float32)
    actions, confidences = jax.jit(jax.vmap(jax_guide))(jnp.asarray(obs))
    expected = [guide(o) for o in obs]
    np.testing.assert_allclose(np.asarray(actions), np.stack([a for a, _ in expected]), atol=2e-5)
    np.testing.assert_array_equal(np.asarray(confidences), np.array([c for _, c in expected], np.float32))
    assert 0 < np.mean(np.asarray(confidences)) <= 1


def test_every_jax_env_is_registered_with_gymnasium_and_steps_from_the_host():
    import gymnasium as gym

    from guidedrl.envs import JAX_ENV_IDS, make_env
    from guidedrl.jaxenvs.gymnax_envs import GYMNAX_TASKS
    from guidedrl.jaxenvs.point import POINT_TWINS

    assert set(JAX_ENV_IDS) == {f"gymnax/{t}" for t in GYMNAX_TASKS} | {f"jax/{t}" for t in POINT_TWINS}
    env = make_env("gymnax/Pendulum-v1")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3,) and env.action_space.shape == (1,)
    assert all(gym.spec(i) is not None for i in JAX_ENV_IDS)


def test_names():
    assert is_jax_env("gymnax/Pendulum-v1") and is_jax_env("jax/PointReach-v0") and not is_jax_env("Pendulum-v1")
    assert find_jax_guide("default", "gymnax/Pendulum-v1").name == "pendulum-lqr"
    assert find_jax_guide("default", "gymnax/MountainCarContinuous-v0") is None
    with pytest.raises(EnvError, match="gymnax/Pendulum-v1"):
        make_jax_env("gymnax/CartPole-v1")

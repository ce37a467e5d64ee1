"""guidedrl.guide_check: the guide alone reproduces the stored numbers, the policies differ as
defined, the same seed gives the same numbers, and a guide worse than doing nothing is flagged."""

import gymnasium as gym
import numpy as np
import pytest

from guidedrl import guides
from guidedrl.envs import TASKS, stored_alone
from guidedrl.errors import ConfigError, GuideCheckFailed
from guidedrl.guide_check import DEFAULT_SEED, check_guide, zero_action
from guidedrl.guides import Guide


@pytest.mark.parametrize("task", list(TASKS))
def test_the_guide_alone_is_the_stored_alone_measurement(task):
    """``guidedrl envs`` numbers (alone.json, by ``python -m benchmarks.studies.envs --alone``): episodes reset
    with seeds 10000, 10001, ...; the same seeds give the same returns: bit for bit on the machine
    that stored them, to float64 round-off on another machine (seen: 5e-15 on PointReach-v0)."""
    result = check_guide(task, episodes=2)
    stored = stored_alone()[task]
    assert stored["seed"] == DEFAULT_SEED
    assert result.policies["guide"].returns == pytest.approx(stored["returns"][:2], rel=1e-12, abs=1e-12)
    assert result.policies["guide"].catastrophes == 0


def test_twenty_episodes_give_the_numbers_in_envs_md():
    """docs/ENVS.md: PointMass-v0's guide alone, 20 episodes: 600.3 ± 330.8."""
    alone = check_guide("PointMass-v0", episodes=20).policies["guide"]
    assert (round(alone.mean_return, 1), round(alone.std_return, 1)) == (600.3, 330.8)


def test_the_policies_act_as_defined_on_safe_cartpole():
    result = check_guide("SafeCartpole-v0", episodes=2)
    guide, inside, inside_random, zero, uniform = (result.policies[key] for key in
                                                   ("guide", "guide+zero", "guide+random", "zero", "random"))
    # the zero action never brings the cart near a wall, so the guide never acts in (b): (b) is (d)
    assert inside.returns == zero.returns and inside.in_region == 0.0 == guide.in_region
    # uniform random actions crash into a wall in every episode; with the reflex in its region, none do
    assert uniform.catastrophes_per_episode == 1.0 and uniform.cost_per_episode == 1.0
    assert inside_random.catastrophes == 0 and inside_random.in_region > 0
    assert result.coverage == {"guide": 0.0, "random": uniform.in_region} and 0 < uniform.in_region < 1
    assert result.zero_action == [0.0] and not result.guide_worse_than_zero
    assert "never entered" in result.verdict


def test_a_guide_worse_than_the_zero_action_in_its_region_is_flagged():
    """Pushing right wherever |x| < 0.5 throws the cart into the wall; doing nothing does not."""
    push = Guide(lambda obs: np.array([1.0]), guides.box([-0.5], [0.5], index=[0]), name="push-right")
    result = check_guide("SafeCartpole-v0", push, episodes=2)
    assert result.policies["guide+zero"].catastrophes_per_episode == 1.0
    assert result.policies["zero"].catastrophes_per_episode == 0.0
    assert result.guide_worse_than_zero and result.to_dict()["guide_worse_than_zero"] is True
    assert result.verdict.startswith("WARNING: the guide does worse than the zero action inside its own region")
    # the LQR on Pendulum is better than nothing inside its ellipse
    assert not check_guide("Pendulum-v1", "lqr", episodes=2).guide_worse_than_zero


def test_same_seed_same_numbers_and_the_random_draws_are_paired():
    first, again = (check_guide("PointCircle-v0", episodes=2, seed=3).to_dict() for _ in range(2))
    assert first == again
    other = check_guide("PointCircle-v0", episodes=2, seed=4).to_dict()
    assert other["policies"]["random"]["returns"] != first["policies"]["random"]["returns"]
    # PointCircle's guide region is never entered from these starts: (c) draws what (e) draws
    assert first["policies"]["guide+random"]["returns"] == first["policies"]["random"]["returns"]


def test_regions_in_the_check_and_the_share_of_the_default_region_they_keep():
    narrow = check_guide("PointMass-v0", region="narrow", episodes=2)
    assert narrow.guide == "pointmass-medium-sac[narrow]"
    assert 0.0 < narrow.default_region_kept["guide"] < 1.0 and 0.0 < narrow.default_region_kept["random"] < 1.0
    assert narrow.policies["guide"].returns == check_guide("PointMass-v0", episodes=2).policies["guide"].returns
    everywhere = check_guide("PointMass-v0", region="always", episodes=2)
    assert everywhere.default_region_kept == {"guide": 1.0, "random": 1.0}
    assert everywhere.policies["zero"].in_region == 1.0
    nowhere = check_guide("PointMass-v0", region="none-region", episodes=2)
    assert nowhere.default_region_kept == {"guide": 0.0, "random": 0.0}
    assert nowhere.coverage == {"guide": 0.0, "random": 0.0}
    assert nowhere.policies["guide+zero"].returns == nowhere.policies["zero"].returns
    assert check_guide("PointMass-v0", episodes=2).default_region_kept is None
    # the cart-pole reflex alone never goes near a wall: nothing of its region to keep along its own path
    assert check_guide("SafeCartpole-v0", region="narrow", episodes=1).default_region_kept["guide"] is None


def test_check_guide_is_public_and_takes_a_guide_object():
    import guidedrl

    lqr = guidedrl.names.resolve_guide("lqr", "Pendulum-v1")
    assert guidedrl.check_guide("Pendulum-v1", lqr, episodes=1).to_dict() == \
        check_guide("Pendulum-v1", "lqr", episodes=1).to_dict()


class ThrottleEnv(gym.Env):
    """Three steps; the action is a throttle in [1, 3] (env units), paid as the reward."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(1.0, 3.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.steps += 1
        return np.zeros(1, np.float32), float(action[0]), False, self.steps == 3, {}


def test_the_zero_action_is_zero_in_env_units_or_the_middle_of_the_bounds():
    np.testing.assert_array_equal(zero_action([-2.0, 1.0, -3.0], [2.0, 3.0, -1.0]), [0.0, 2.0, -2.0])
    assert check_guide("Pendulum-v1", "lqr", episodes=1).zero_action == [0.0]
    full = Guide(lambda obs: np.array([1.0]), guides.always(1.0), name="full-throttle")  # [-1, 1]: 1 is 3.0
    result = check_guide(ThrottleEnv(), full, episodes=2)
    assert result.zero_action == [2.0] and result.policies["zero"].returns == [6.0, 6.0]
    assert result.policies["guide"].returns == [9.0, 9.0] and not result.guide_worse_than_zero


def test_failures_and_bad_inputs_are_one_line():
    broken = Guide(lambda obs: np.zeros(2), lambda obs: 1.0, name="two-actions")
    with pytest.raises(GuideCheckFailed, match=r"the guide 'two-actions' failed in the check's policy 'guide', "
                                               r"episode 0, step 0: GuideError: .*expected \(1,\)") as error:
        check_guide("SafeCartpole-v0", broken, episodes=1)
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="episodes must be a positive integer, got 0"):
        check_guide("SafeCartpole-v0", episodes=0)
    with pytest.raises(ConfigError, match="unknown guide region 'wide'"):
        check_guide("SafeCartpole-v0", region="wide")

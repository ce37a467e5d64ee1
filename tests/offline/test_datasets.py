"""Reading Minari datasets made by other tools: exact transitions, and each bad dataset refused
with a message naming the dataset, the episode and the value."""

import warnings

import gymnasium as gym
import h5py
import minari
import numpy as np
import pytest

from guidedrl.envs import make_env
from guidedrl.errors import DatasetError
from guidedrl.offline import dataset_info, list_datasets, load_transitions
from tests.offline.conftest import DictObsEnv, hand_episode, write_buffers


def collect_with_minari(dataset_id, env, episodes, seed=0):
    """Minari's own DataCollector over a plain Gymnasium env with a random policy; returns what
    was executed, episode by episode: (observations T+1, actions T, rewards T)."""
    collector = minari.DataCollector(env)
    collector.action_space.seed(seed)
    executed = []
    for episode in range(episodes):
        obs, _ = collector.reset(seed=seed + episode)
        observations, actions, rewards = [obs], [], []
        done = False
        while not done:
            action = collector.action_space.sample()
            obs, reward, terminated, truncated, _ = collector.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            done = terminated or truncated
        executed.append((observations, np.array(actions), np.array(rewards)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collector.create_dataset(dataset_id, algorithm_name="random")
    collector.close()
    return executed


def test_a_data_collector_dataset_gives_the_exact_transitions_of_every_episode(store):
    executed = collect_with_minari("other/pendulum-random-v0", gym.make("Pendulum-v1", max_episode_steps=5), 4)
    transitions = load_transitions("other/pendulum-random-v0", gym.make("Pendulum-v1"))
    assert transitions.episodes == 4 and len(transitions) == 20 and transitions.name == "other/pendulum-random-v0"
    assert transitions.obs.dtype == np.float32 and transitions.action.dtype == np.float32
    for episode, (observations, actions, rewards) in enumerate(executed):
        rows = slice(5 * episode, 5 * episode + 5)
        observations = np.asarray(observations, np.float32)
        np.testing.assert_array_equal(transitions.obs[rows], observations[:-1])
        np.testing.assert_array_equal(transitions.next_obs[rows], observations[1:])
        np.testing.assert_array_equal(transitions.action[rows], actions / 2.0)  # bounds ±2: exactly half
        np.testing.assert_array_equal(transitions.reward[rows], rewards.astype(np.float32))
        # time limits: truncated at the last step, never terminated, so the critic bootstraps
        np.testing.assert_array_equal(transitions.terminated[rows], np.zeros(5))
        np.testing.assert_array_equal(transitions.truncated[rows], [0, 0, 0, 0, 1])
    # episodes 2 and 3 start where they should (a loader that misaligns after the first fails here)
    np.testing.assert_array_equal(transitions.obs[5], np.asarray(executed[1][0][0], np.float32))
    np.testing.assert_array_equal(transitions.next_obs[14], np.asarray(executed[2][0][-1], np.float32))
    # the same dataset read with a guidedrl-made env (rescaled actions, flat observations)
    made = load_transitions("other/pendulum-random-v0", make_env("Pendulum-v1"))
    for field in ("obs", "action", "reward", "next_obs", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(made, field), getattr(transitions, field))


def test_hand_made_episodes_give_the_bootstrap_mask_and_truncation(store):
    episodes = [hand_episode(3, start=0.0), hand_episode(2, start=10.0, terminated=True),
                hand_episode(4, start=20.0)]
    write_buffers("other/hand-v0", episodes)
    transitions = load_transitions("other/hand-v0", gym.make("Pendulum-v1"))
    np.testing.assert_array_equal(transitions.obs, np.concatenate([e["observations"][:-1] for e in episodes]))
    np.testing.assert_array_equal(transitions.next_obs, np.concatenate([e["observations"][1:] for e in episodes]))
    np.testing.assert_array_equal(transitions.action, np.concatenate([e["actions"] for e in episodes]) / 2.0)
    np.testing.assert_array_equal(transitions.reward, np.concatenate([e["rewards"] for e in episodes]))
    # bootstrap mask = 1 - terminated: only the terminal step of episode 1 stops bootstrapping
    np.testing.assert_array_equal(transitions.terminated, [0, 0, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(transitions.truncated, [0, 0, 1, 0, 0, 0, 0, 0, 1])
    # the second episode's first transition starts from its own reset observation
    np.testing.assert_array_equal(transitions.obs[3], episodes[1]["observations"][0])
    # an episode whose last step has neither flag (a writer that leaves it out) ends truncated
    unflagged = hand_episode(2, start=30.0)
    unflagged["truncations"] = [False, False]
    write_buffers("other/unflagged-v0", [unflagged])
    read = load_transitions("other/unflagged-v0", gym.make("Pendulum-v1"))
    assert read.terminated.tolist() == [0, 0] and read.truncated.tolist() == [0, 1]
    # a dataset directory's path reads the same as its id
    by_path = load_transitions(str(store / "other" / "hand-v0"), gym.make("Pendulum-v1"))
    np.testing.assert_array_equal(by_path.obs, transitions.obs)


def test_dict_observations_are_flattened_as_flatten_observation_does(store):
    executed = collect_with_minari("other/dict-v0", DictObsEnv(), 2, seed=3)
    stored = minari.load_dataset("other/dict-v0")
    assert isinstance(stored.observation_space, gym.spaces.Dict)
    env = make_env(DictObsEnv())
    transitions = load_transitions("other/dict-v0", env)
    flatten = gym.wrappers.FlattenObservation(DictObsEnv())
    expected = np.concatenate([[flatten.observation(o) for o in observations[:-1]]
                               for observations, _, _ in executed]).astype(np.float32)
    np.testing.assert_array_equal(transitions.obs, expected)
    assert transitions.obs.shape == (12, 3)
    # asymmetric bounds [0, 4] x [-1, 3]: a = (a_env - center) / half
    actions = np.concatenate([a for _, a, _ in executed]).astype(np.float64)
    np.testing.assert_allclose(transitions.action, (actions - [2.0, 1.0]) / 2.0, rtol=0, atol=1e-7)
    assert transitions.action.min() >= -1.0 and transitions.action.max() <= 1.0


def test_list_and_info(store):
    write_buffers("other/hand-v0", [hand_episode(3), hand_episode(2, start=5.0, terminated=True)])
    write_buffers("other/hand-v1", [hand_episode(4)])
    assert list_datasets() == [("other/hand-v0", 2, 5), ("other/hand-v1", 1, 4)]
    info = dataset_info("other/hand-v0")
    returns = [-(0 + 1 + 2), -(5 + 6)]
    assert (info["id"], info["episodes"], info["steps"]) == ("other/hand-v0", 2, 5)
    assert info["mean_return"] == pytest.approx(np.mean(returns)) and info["std_return"] == pytest.approx(np.std(returns))
    assert info["algorithm_name"] == "hand-made" and info["command"] is None and info["env_id"] is None
    assert info["action_space"] == "Box(-2.0, 2.0, (1,), float32)"
    assert info["path"] == str(store / "other" / "hand-v0")


# -- bad datasets -----------------------------------------------------------------------------


def refused(spec, env=None):
    with pytest.raises(DatasetError) as caught:
        load_transitions(spec, env if env is not None else gym.make("Pendulum-v1"))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_dataset_lists_the_local_ones_and_how_to_make_one(store, monkeypatch):
    write_buffers("other/hand-v0", [hand_episode(3)])
    message = refused("guidedrl/nothing-v0")
    assert "no dataset 'guidedrl/nothing-v0'" in message and str(store) in message
    assert "local datasets: other/hand-v0" in message
    assert "guidedrl dataset collect --env ENV" in message and "--id guidedrl/nothing-v0" in message

    def no_network(dataset_id):
        raise ConnectionError(f"cannot reach the hub for {dataset_id}")

    monkeypatch.setattr(minari, "download_dataset", no_network)
    with pytest.raises(DatasetError, match="cannot download dataset 'guidedrl/nothing-v0': ConnectionError: cannot reach"):
        load_transitions("guidedrl/nothing-v0", gym.make("Pendulum-v1"), download=True)
    assert "malformed dataset id 'not an id'" in refused("not an id")
    (store / "plain").mkdir()
    assert "is a directory but not a Minari dataset" in refused(str(store / "plain"))
    (store / "notes.txt").write_text("not a dataset")
    assert "is a file; a Minari dataset is a directory" in refused(str(store / "notes.txt"))


def test_an_empty_dataset(store):
    write_buffers("bad/empty-v0", [])
    assert refused("bad/empty-v0") == "dataset 'bad/empty-v0' is empty: it holds 0 episodes"


def test_an_episode_with_as_many_observations_as_actions(store):
    short = hand_episode(4)
    short["observations"] = short["observations"][:4]
    write_buffers("bad/misaligned-v0", [hand_episode(3), short])
    message = refused("bad/misaligned-v0")
    assert message.startswith("dataset 'bad/misaligned-v0', episode 1: 4 observations for 4 actions")


def test_an_episode_cut_on_disk(store):
    collect_with_minari("bad/cut-v0", gym.make("Pendulum-v1", max_episode_steps=5), 3)
    path = store / "bad" / "cut-v0" / "data" / "main_data.hdf5"
    with h5py.File(path, "a") as file:
        file["episode_2/observations"].resize((5, 3))  # drop the last observation
    assert refused("bad/cut-v0").startswith("dataset 'bad/cut-v0', episode 2: 5 observations for 5 actions")


def test_an_episode_missing_from_the_file(store):
    collect_with_minari("bad/lost-v0", gym.make("Pendulum-v1", max_episode_steps=5), 3)
    with h5py.File(store / "bad" / "lost-v0" / "data" / "main_data.hdf5", "a") as file:
        del file["episode_2"]  # the metadata still counts 3 episodes
    assert refused("bad/lost-v0").startswith("dataset 'bad/lost-v0', episode 2: unreadable (KeyError: ")


def test_non_finite_values(store):
    collect_with_minari("bad/nan-v0", gym.make("Pendulum-v1", max_episode_steps=5), 3)
    with h5py.File(store / "bad" / "nan-v0" / "data" / "main_data.hdf5", "a") as file:
        file["episode_1/observations"][3, 1] = np.nan
    message = refused("bad/nan-v0")
    assert message.startswith("dataset 'bad/nan-v0', episode 1, step 3: non-finite observation value nan")
    episode = hand_episode(4)
    episode["rewards"][2] = np.inf
    write_buffers("bad/inf-v0", [hand_episode(3), hand_episode(3), episode])
    assert refused("bad/inf-v0") == "dataset 'bad/inf-v0', episode 2, step 2: non-finite reward value inf"
    episode = hand_episode(4)
    episode["actions"][1, 0] = -np.inf
    write_buffers("bad/inf-action-v0", [episode])
    assert "episode 0, step 1: non-finite action value -inf" in refused("bad/inf-action-v0")


def test_observations_of_another_shape(store):
    write_buffers("bad/obs-v0", [hand_episode(3, obs_dim=4)],
                  observation_space=gym.spaces.Box(-1.0, 1.0, (4,), np.float32))
    assert refused("bad/obs-v0") == (
        "dataset 'bad/obs-v0', episode 0: observations of shape (4,) (flattened); the env's have shape (3,)")
    write_buffers("bad/dict-v0", [hand_episode(3)])
    message = refused("bad/dict-v0", make_env(DictObsEnv()))
    assert message.startswith("dataset 'bad/dict-v0', episode 0: observations are an array of shape (4, 3)")


def test_actions_of_another_shape(store):
    write_buffers("bad/actions-v0", [hand_episode(3), hand_episode(3, action_dim=2)],
                  action_space=gym.spaces.Box(-2.0, 2.0, (2,), np.float32))
    assert refused("bad/actions-v0") == (
        "dataset 'bad/actions-v0', episode 1: actions of shape (2,); the env's have shape (1,)")


def test_actions_outside_the_bounds(store):
    episode = hand_episode(4)
    episode["actions"][2, 0] = 2.5
    write_buffers("bad/bounds-v0", [hand_episode(3), episode])
    assert refused("bad/bounds-v0") == (
        "dataset 'bad/bounds-v0', episode 1, step 2: action [2.5] is outside the env's bounds (low [-2], high [2])")
    at_bound = hand_episode(2)
    at_bound["actions"][:, 0] = [2.0 + 1e-6, -2.0]  # within the tolerance: read, clipped to [-1, 1]
    write_buffers("ok/bounds-v0", [at_bound])
    assert load_transitions("ok/bounds-v0", gym.make("Pendulum-v1")).action.tolist() == [[1.0], [-1.0]]


def test_actions_declared_in_other_units(store):
    write_buffers("bad/units-v0", [hand_episode(3)], action_space=gym.spaces.Box(-1.0, 1.0, (1,), np.float32))
    assert refused("bad/units-v0") == (
        "dataset 'bad/units-v0' declares actions between low [-1] and high [1]; the env's are between "
        "low [-2] and high [2] (a dataset records actions in the env's own units)")


def test_a_termination_before_the_last_step(store):
    episode = hand_episode(4)
    episode["terminations"][1] = True
    write_buffers("bad/early-v0", [episode])
    assert refused("bad/early-v0").startswith("dataset 'bad/early-v0', episode 0, step 1: terminated before")

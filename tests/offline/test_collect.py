"""Writing Minari datasets: a policy's rollouts and a run's replay buffer, read back by Minari
itself and by guidedrl."""

import json
import textwrap

import gymnasium as gym
import minari
import numpy as np
import pytest
from flax import serialization

import guidedrl
from guidedrl.errors import ConfigError, DatasetError
from guidedrl.offline import collect, from_run, load_transitions
from guidedrl.offline.collect import episode_seed
from guidedrl import checkpoint
from tests.offline.conftest import DictObsEnv

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


def episodes_of(dataset_id):
    return list(minari.load_dataset(dataset_id).iterate_episodes())


def test_a_collected_dataset_reads_in_minari_with_the_executed_actions_in_env_units(store):
    path = collect("Pendulum-v1", "guide", 3, "guidedrl/pendulum-lqr-v0", noise=0.2, epsilon=0.2, seed=5,
                   max_episode_steps=25)
    assert path == store / "guidedrl" / "pendulum-lqr-v0"
    dataset = minari.load_dataset("guidedrl/pendulum-lqr-v0")
    assert (dataset.total_episodes, dataset.total_steps) == (3, 75)
    assert dataset.env_spec.id == "Pendulum-v1" and dataset.env_spec.max_episode_steps == 25
    assert dataset.action_space == gym.make("Pendulum-v1").action_space
    seeds = [meta["seed"] for meta in dataset.storage.get_episode_metadata(range(3))]
    assert seeds == [episode_seed(5, k) for k in range(3)]
    env = gym.make("Pendulum-v1")
    largest = 0.0
    for episode, seed in zip(dataset.iterate_episodes(), seeds):
        assert episode.observations.shape == (26, 3) and episode.actions.shape == (25, 1)
        assert episode.truncations.tolist() == [False] * 24 + [True] and not episode.terminations.any()
        # replaying the stored actions in the env's own units reproduces the stored episode
        obs, _ = env.reset(seed=seed)
        np.testing.assert_array_equal(episode.observations[0], obs)
        for t, action in enumerate(episode.actions):
            obs, reward, _, _, _ = env.step(action)
            np.testing.assert_array_equal(episode.observations[t + 1], obs)
            assert episode.rewards[t] == reward
        largest = max(largest, float(np.abs(episode.actions).max()))
    assert largest > 1.0  # env units (Pendulum's torque is in [-2, 2]), not the agent's [-1, 1]
    metadata = dataset.storage.metadata
    assert metadata["algorithm_name"] == "guidedrl guide pendulum-lqr, noise 0.2, epsilon 0.2"
    assert metadata["guidedrl_command"].startswith("guidedrl.offline.collect('Pendulum-v1', 'guide', 3, ")
    transitions = load_transitions("guidedrl/pendulum-lqr-v0", gym.make("Pendulum-v1"))
    np.testing.assert_array_equal(transitions.action, np.concatenate([e.actions for e in dataset]) / 2.0)


def test_the_same_seed_gives_the_same_dataset(store):
    for version, seed in ((0, 3), (1, 3), (2, 4)):
        collect("Pendulum-v1", "guide", 2, f"guidedrl/seeded-v{version}", noise=0.3, epsilon=0.3, seed=seed,
                max_episode_steps=15)
    first, again, other = (episodes_of(f"guidedrl/seeded-v{version}") for version in range(3))
    for a, b in zip(first, again):
        for field in ("observations", "actions", "rewards", "terminations", "truncations"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(first[0].actions, other[0].actions)


def test_a_built_in_task_is_recorded_in_the_guidedrl_namespace(store):
    collect("PointMass-v0", "random", 2, "guidedrl/pointmass-random-v0", max_episode_steps=8)
    dataset = minari.load_dataset("guidedrl/pointmass-random-v0")
    assert dataset.env_spec.id == "guidedrl/PointMass-v0"
    assert dataset.env_spec.entry_point == "guidedrl.envs.mj:PointMass"
    env = dataset.recover_environment()
    assert env.observation_space == dataset.observation_space
    actions = np.concatenate([e.actions for e in dataset])
    assert actions.shape == (16,) + dataset.action_space.shape and dataset.action_space.contains(actions[0])
    env.close()
    assert "guidedrl_guide_return" not in dataset.storage.metadata  # random: no reference return


def test_a_guide_s_full_episodes_record_its_stored_return(store):
    collect("Pendulum-v1", "guide", 1, "guidedrl/lqr-full-v0")
    dataset = minari.load_dataset("guidedrl/lqr-full-v0")
    assert dataset.total_steps == 200
    assert dataset.storage.metadata["guidedrl_guide_return"] == guidedrl.envs.stored_alone()["Pendulum-v1"]["mean_return"]


def test_dict_observations_are_recorded_as_the_env_gives_them(store):
    if "guidedrl-tests/DictObs-v0" not in gym.registry:
        gym.register("guidedrl-tests/DictObs-v0", entry_point="tests.offline.conftest:DictObsEnv")
    collect("guidedrl-tests/DictObs-v0", "random", 2, "guidedrl/dict-random-v0", seed=2)
    dataset = minari.load_dataset("guidedrl/dict-random-v0")
    assert dataset.observation_space == DictObsEnv.observation_space
    assert dataset.env_spec.id == "guidedrl-tests/DictObs-v0"
    episode = episodes_of("guidedrl/dict-random-v0")[1]
    assert set(episode.observations) == {"position", "velocity"} and episode.observations["position"].shape == (7, 2)
    env = gym.make("guidedrl-tests/DictObs-v0")
    obs, _ = env.reset(seed=episode_seed(2, 1))
    np.testing.assert_array_equal(episode.observations["position"][0], obs["position"])
    transitions = load_transitions("guidedrl/dict-random-v0", env)
    flatten = gym.wrappers.FlattenObservation(DictObsEnv())
    rows = [{key: episode.observations[key][t] for key in episode.observations} for t in range(7)]
    np.testing.assert_array_equal(transitions.obs[6:], [flatten.observation(row) for row in rows[:-1]])
    # asymmetric bounds: the executed env-unit actions are in [0, 4] x [-1, 3]
    assert np.all(episode.actions >= [0.0, -1.0]) and np.all(episode.actions <= [4.0, 3.0])
    assert np.any(episode.actions > 1.0)  # env units, not [-1, 1]
    np.testing.assert_allclose(transitions.action[6:], (episode.actions - [2.0, 1.0]) / 2.0, atol=1e-7)


def test_a_module_attr_policy_in_env_units(store, tmp_path, monkeypatch):
    (tmp_path / "my_policies.py").write_text(textwrap.dedent("""
        import numpy as np

        def push(obs):
            return np.array([1.5])

        def make_push_back():
            return lambda obs: [-0.5]

        def wrong_shape(obs):
            return [0.1, 0.2]

        def broken(obs):
            raise RuntimeError("no controller here")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    collect("Pendulum-v1", "my_policies:push", 1, "user/push-v0", max_episode_steps=4)
    collect("Pendulum-v1", "my_policies:make_push_back", 1, "user/push-back-v0", max_episode_steps=4)
    assert episodes_of("user/push-v0")[0].actions.tolist() == [[1.5]] * 4
    assert episodes_of("user/push-back-v0")[0].actions.tolist() == [[-0.5]] * 4
    assert minari.load_dataset("user/push-v0").storage.metadata["algorithm_name"] == "my_policies:push"
    with pytest.raises(DatasetError, match=r"^the policy 'my_policies:wrong_shape' returned an action of shape "
                                           r"\(2,\), expected \(1,\) \(env units\) at episode 0, step 0$"):
        collect("Pendulum-v1", "my_policies:wrong_shape", 1, "user/wrong-v0", max_episode_steps=4)
    assert not (store / "user" / "wrong-v0").exists()
    with pytest.raises(DatasetError, match=r"^the policy 'my_policies:broken' failed at episode 0, step 0: "
                                           r"RuntimeError: no controller here$"):
        collect("Pendulum-v1", "my_policies:broken", 1, "user/broken-v0", max_episode_steps=4)


def test_bad_arguments_are_refused_before_collecting(store):
    with pytest.raises(DatasetError, match="needs a namespace and a version: NAMESPACE/NAME-vN"):
        collect("Pendulum-v1", "random", 1, "pendulum-v0")
    with pytest.raises(DatasetError, match="needs a namespace and a version"):
        collect("Pendulum-v1", "random", 1, "guidedrl/pendulum")
    with pytest.raises(DatasetError, match="malformed dataset id 'guidedrl/a b-v0'"):
        collect("Pendulum-v1", "random", 1, "guidedrl/a b-v0")
    collect("Pendulum-v1", "random", 1, "guidedrl/taken-v0", max_episode_steps=2)
    with pytest.raises(DatasetError, match=r"dataset 'guidedrl/taken-v0' already exists at .*\(-v1\), or delete it"):
        collect("Pendulum-v1", "random", 1, "guidedrl/taken-v0")
    with pytest.raises(ConfigError, match="noise must be a finite standard deviation >= 0, got -0.1"):
        collect("Pendulum-v1", "random", 1, "guidedrl/x-v0", noise=-0.1)
    with pytest.raises(ConfigError, match="epsilon must be a probability in \\[0, 1\\], got 1.5"):
        collect("Pendulum-v1", "random", 1, "guidedrl/x-v0", epsilon=1.5)
    with pytest.raises(ConfigError, match="episodes must be a positive integer, got 0"):
        collect("Pendulum-v1", "random", 0, "guidedrl/x-v0")
    with pytest.raises(ConfigError, match="unknown policy 'no-such-policy'"):
        collect("Pendulum-v1", "no-such-policy", 1, "guidedrl/x-v0")
    with pytest.raises(ConfigError, match="a guide \\('lqr'\\) is used only with the policy 'guide', not with 'random'"):
        collect("Pendulum-v1", "random", 1, "guidedrl/x-v0", guide="lqr")
    assert not (store / "guidedrl" / "x-v0").exists()


# -- a run's replay buffer --------------------------------------------------------------------


def fake_run(directory, capacity, position, size, rows, extra_dataset=True):
    """A training checkpoint holding only what from_run reads: meta.json and replay.msgpack with
    ``rows`` (time order) placed in the ring as the buffer would hold them."""
    ckpt = directory / checkpoint.IN_RUN
    ckpt.mkdir(parents=True)
    meta = {"format_version": checkpoint.FORMAT_VERSION, "kind": "training", "obs_dim": 3, "action_dim": 1,
            "action_low": [-2.0], "action_high": [2.0], "guide": None,
            "config": {"env": "Pendulum-v1", "algo": "sac", "guidance": "none", "seed": 0}}
    (ckpt / checkpoint.META).write_text(json.dumps(meta))
    slots = (position + np.arange(size)) % capacity if size == capacity else np.arange(size)
    data = {}
    for name, values in rows.items():
        stored = np.zeros((size,) + values.shape[1:], np.float32)
        stored[slots] = values
        data[name] = stored
    state = {"capacity": capacity, "position": position, "size": size, "data": data}
    if extra_dataset:  # a preloaded dataset beside the ring: never exported
        state["dataset"] = {name: np.full((7,) + v.shape[1:], 9.0, np.float32) for name, v in rows.items()}
    (ckpt / checkpoint.REPLAY).write_bytes(serialization.msgpack_serialize(state))
    return directory


def chained_rows(lengths, ends):
    """Time-ordered transitions of consecutive episodes (s' of a row is s of the next within an
    episode); ``ends[i]`` is "terminated", "truncated" or None (unfinished) for episode i."""
    rows = {name: [] for name in FIELDS}
    value = 0.0
    for length, end in zip(lengths, ends):
        obs = np.array([value, 0.5, -0.5], np.float32) / 100
        for t in range(length):
            value += 1.0
            next_obs = np.array([value, 0.5, -0.5], np.float32) / 100
            rows["obs"].append(obs)
            rows["action"].append([((value % 7) - 3) / 3.0])
            rows["reward"].append(-value)
            rows["next_obs"].append(next_obs)
            rows["terminated"].append(float(end == "terminated" and t == length - 1))
            rows["truncated"].append(float(end == "truncated" and t == length - 1))
            obs = next_obs
        value += 100.0  # the next episode starts elsewhere
    return {name: np.asarray(values, np.float32) for name, values in rows.items()}


@pytest.mark.parametrize("wrapped", [False, True])
def test_from_run_exports_the_ring_in_time_order(store, tmp_path, wrapped):
    rows = chained_rows([3, 4, 2], ["terminated", "truncated", None])
    size = len(rows["reward"])
    run = fake_run(tmp_path / "run", capacity=9 if wrapped else 12, position=4 if wrapped else 9, size=size, rows=rows)
    from_run(run, "guidedrl/replay-v0")
    episodes = episodes_of("guidedrl/replay-v0")
    assert [len(e) for e in episodes] == [3, 4, 2]
    assert [e.terminations.tolist() for e in episodes] == [[0, 0, 1], [0, 0, 0, 0], [0, 0]]
    assert [e.truncations.tolist() for e in episodes] == [[0, 0, 0], [0, 0, 0, 1], [0, 1]]  # the last: unfinished
    np.testing.assert_array_equal(np.concatenate([e.actions for e in episodes]), rows["action"] * 2.0)
    np.testing.assert_array_equal(episodes[1].observations[0], rows["obs"][3])
    np.testing.assert_array_equal(episodes[1].observations[-1], rows["next_obs"][6])
    transitions = load_transitions("guidedrl/replay-v0", gym.make("Pendulum-v1"))
    expected = dict(rows, truncated=rows["truncated"].copy())
    expected["truncated"][-1] = 1.0  # marked so by the export
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(transitions, field), expected[field], err_msg=field)


def test_from_run_cuts_the_first_episode_where_the_wrap_cut_it(store, tmp_path):
    rows = chained_rows([5, 3], ["truncated", "terminated"])
    kept = {name: values[2:] for name, values in rows.items()}  # the ring lost the first two rows
    run = fake_run(tmp_path / "run", capacity=6, position=2, size=6, rows=kept)
    from_run(run, "guidedrl/cut-v0")
    episodes = episodes_of("guidedrl/cut-v0")
    assert [len(e) for e in episodes] == [3, 3]
    np.testing.assert_array_equal(episodes[0].observations[0], rows["obs"][2])  # starts mid-episode
    assert episodes[1].terminations.tolist() == [0, 0, 1] and not episodes[1].truncations.any()


def test_from_run_of_a_real_run_gives_its_buffer_rows(store, tmp_path):
    out = tmp_path / "run"
    guidedrl.train("Pendulum-v1", guidance="none", steps=600, learning_starts=100, eval_every=300,
                   eval_episodes=1, hidden_sizes=(16, 16), batch_size=32, buffer_size=250, out=str(out),
                   progress=False)
    meta = checkpoint.read_meta(out)
    state = checkpoint.load_replay_state(meta)
    assert (state["size"], state["position"]) == (250, 600 % 250)
    order = (state["position"] + np.arange(250)) % 250
    path = from_run(out, "guidedrl/run-replay-v0", command="test")
    assert minari.load_dataset("guidedrl/run-replay-v0").storage.metadata["guidedrl_command"] == "test"
    transitions = load_transitions("guidedrl/run-replay-v0", gym.make("Pendulum-v1"))
    assert transitions.episodes == 2  # steps 350-399 (cut by the wrap), then 400-599
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(transitions, field),
                                      np.asarray(state["data"][field], np.float32)[order], err_msg=field)
    assert path.is_dir()

    # the same run as a collection policy: its deterministic deployed actions, in env units
    collect("Pendulum-v1", str(out), 1, "guidedrl/run-policy-v0", max_episode_steps=10)
    run = guidedrl.load(out)
    episode = episodes_of("guidedrl/run-policy-v0")[0]
    for obs, action in zip(episode.observations[:-1], episode.actions):
        np.testing.assert_array_equal(action, run.act(obs))

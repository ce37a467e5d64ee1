"""The replay buffer: guide fields, terminated apart from truncated, ring order, persistence."""

import numpy as np
import pytest

from guidedrl.replay import ReplayBuffer, unflatten


def fill(buffer, n, start=0):
    for i in range(start, start + n):
        buffer.add(
            obs=np.full(2, i), action=np.full(1, i / 100), reward=float(i), next_obs=np.full(2, i + 1),
            terminated=i % 5 == 4, truncated=i % 7 == 6,
            guide_action=np.full(1, -i / 100), confidence=0.5,
            next_guide_action=np.full(1, -(i + 1) / 100), next_confidence=1.0,
        )


def test_fields_are_stored_where_they_belong():
    buffer = ReplayBuffer(10, obs_dim=2, action_dim=1)
    fill(buffer, 3)
    d = buffer.data
    np.testing.assert_array_equal(d["obs"][:3, 0], [0, 1, 2])
    np.testing.assert_array_equal(d["next_obs"][:3, 1], [1, 2, 3])
    np.testing.assert_allclose(d["guide_action"][:3, 0], [0, -0.01, -0.02])
    np.testing.assert_allclose(d["next_guide_action"][:3, 0], [-0.01, -0.02, -0.03])
    np.testing.assert_array_equal(d["confidence"][:3], 0.5)
    np.testing.assert_array_equal(d["next_confidence"][:3], 1.0)


def test_missing_guide_fields_are_zero():
    buffer = ReplayBuffer(4, obs_dim=1, action_dim=2)
    buffer.add(np.ones(1), np.ones(2), 1.0, np.ones(1), False, True)
    np.testing.assert_array_equal(buffer.data["guide_action"][0], [0, 0])
    assert buffer.data["confidence"][0] == 0 and buffer.data["next_confidence"][0] == 0
    assert buffer.data["terminated"][0] == 0 and buffer.data["truncated"][0] == 1


def test_ring_overwrites_the_oldest_and_sampling_sees_only_stored_rows():
    buffer = ReplayBuffer(8, obs_dim=2, action_dim=1)
    fill(buffer, 11)
    assert len(buffer) == 8 and buffer.position == 3
    assert sorted(buffer.data["reward"].tolist()) == list(range(3, 11))
    batch = buffer.sample(np.random.default_rng(0), 3, 50)
    assert batch.obs.shape == (3, 50, 2) and batch.reward.shape == (3, 50)
    assert set(np.asarray(batch.reward).ravel()) <= set(range(3, 11))
    # each sampled row is one consistent transition
    np.testing.assert_array_equal(batch.next_obs[..., 0], batch.obs[..., 0] + 1)
    np.testing.assert_array_equal(batch.terminated, (batch.reward % 5 == 4).astype(np.float32))
    np.testing.assert_allclose(batch.guide_action[..., 0], -batch.reward / 100, rtol=1e-6)
    np.testing.assert_allclose(buffer.recent_actions(3)[:, 0], [0.08, 0.09, 0.10], rtol=1e-6)


def test_sampling_is_seeded():
    buffer = ReplayBuffer(100, obs_dim=2, action_dim=1)
    fill(buffer, 100)
    a = buffer.sample_flat(np.random.default_rng(1), 2, 16)
    b = buffer.sample_flat(np.random.default_rng(1), 2, 16)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(unflatten(a, buffer.layout).reward, unflatten(b, buffer.layout).reward)


def test_state_dict_round_trip():
    buffer = ReplayBuffer(8, obs_dim=2, action_dim=1)
    fill(buffer, 11)
    restored = ReplayBuffer(8, obs_dim=2, action_dim=1)
    restored.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(restored.storage, buffer.storage)
    assert (restored.position, restored.size) == (buffer.position, buffer.size)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(9, obs_dim=2, action_dim=1).load_state_dict(buffer.state_dict())


def test_empty_buffer_refuses_to_sample():
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, 1, 1).sample(np.random.default_rng(0), 1, 2)


def _dataset(n, offset=1000.0):
    """n dataset rows whose reward is offset + row (online rows have rewards below offset)."""
    fields = {name: np.zeros((n, width)) for name, width in
              (("obs", 2), ("action", 1), ("next_obs", 2), ("guide_action", 1), ("next_guide_action", 1))}
    fields.update({name: np.zeros(n) for name in ("terminated", "truncated", "confidence", "next_confidence")})
    fields["reward"] = offset + np.arange(n)
    return fields


def test_a_dataset_is_never_evicted_and_online_rows_wrap_after_it():
    buffer = ReplayBuffer(5, obs_dim=2, action_dim=1)
    buffer.add_dataset(_dataset(3))
    fill(buffer, 12)  # wraps the 5-row ring twice
    np.testing.assert_array_equal(buffer.dataset["reward"], [1000, 1001, 1002])
    assert len(buffer) == 5 and buffer.dataset_size == 3
    np.testing.assert_array_equal(np.sort(buffer.data["reward"]), [7, 8, 9, 10, 11])
    np.testing.assert_allclose(buffer.recent_actions(2)[:, 0], [0.10, 0.11])
    with pytest.raises(ValueError, match="empty buffer, once"):
        buffer.add_dataset(_dataset(2))


def test_sampling_is_uniform_over_the_union_or_a_fixed_offline_share():
    buffer = ReplayBuffer(100, obs_dim=2, action_dim=1)
    buffer.add_dataset(_dataset(300))
    # before any online data, every row comes from the dataset, with or without a ratio
    for ratio in (None, 0.5):
        rows = buffer.sample(np.random.default_rng(0), 2, 64, ratio).reward
        assert np.all(np.asarray(rows) >= 1000)
    fill(buffer, 100)
    uniform = np.asarray(buffer.sample(np.random.default_rng(1), 50, 100).reward)
    share = np.mean(uniform >= 1000)
    assert abs(share - 0.75) < 0.03  # 300 of 400 rows
    fixed = np.asarray(buffer.sample(np.random.default_rng(1), 50, 100, 0.3).reward)
    assert np.all(np.sum(fixed >= 1000, axis=1) == 30)  # exactly 30 of every 100
    # every online row and every dataset row can be drawn
    assert set(np.unique(fixed[fixed < 1000])) == set(range(100))


def test_a_dataset_round_trips_through_the_state_dict():
    buffer = ReplayBuffer(5, obs_dim=2, action_dim=1)
    buffer.add_dataset(_dataset(4))
    fill(buffer, 7)
    mark = buffer.mark()
    fill(buffer, 1, start=50)
    buffer.undo(mark)  # the undo restores the ring's row, not a dataset row
    restored = ReplayBuffer(5, obs_dim=2, action_dim=1)
    restored.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(restored.storage, buffer.storage)
    assert (restored.position, restored.size, restored.dataset_size) == (buffer.position, 5, 4)

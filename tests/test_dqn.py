"""DQN parts: the target, the replay buffer, epsilon-greedy, and a short run that runs end to end."""
import pytest
import torch

from utils.dqn import (DQNConfig, ReplayBuffer, dqn_targets, epsilon_greedy, evaluate_policy, greedy_policy,
                       linear_epsilon, train_dqn)


def test_dqn_targets_by_the_formula():
    rewards = torch.rand(16)
    next_q = torch.randn(16, 3)
    dones = (torch.rand(16) < 0.3).float()
    expected = torch.stack([r + 0.9 * (0 if d else 1) * q.max() for r, q, d in zip(rewards, next_q, dones)])
    torch.testing.assert_close(dqn_targets(rewards, next_q, dones, 0.9), expected)
    # a terminal transition is worth its reward alone, whatever Q_target says
    torch.testing.assert_close(dqn_targets(rewards, next_q, torch.ones(16), 0.9), rewards)
    with pytest.raises(ValueError, match="shape"):
        dqn_targets(rewards[:3], next_q, dones, 0.9)


def test_dqn_targets_keep_float64_exact():
    """gamma must not pass through float32 (a float32 (1 - done) mask rounds 0.9 to 0.8999999762)."""
    rewards, next_q = torch.zeros(2, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64)
    targets = dqn_targets(rewards, next_q, torch.tensor([False, True]), 0.9)
    assert targets.dtype == torch.float64 and targets.tolist() == [0.9, 0.0]


def test_replay_buffer_overwrites_the_oldest_and_samples_what_it_holds():
    buffer = ReplayBuffer(capacity=3, obs_dim=2, seed=0)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1)
    for i in range(5):
        buffer.push([i, i], i % 2, float(i), [i + 1, i + 1], i == 4)
    assert len(buffer) == 3
    assert sorted(buffer.rewards.tolist()) == [2.0, 3.0, 4.0]
    states, actions, rewards, next_states, dones = buffer.sample(50)
    assert states.shape == (50, 2) and actions.dtype == torch.int64
    assert set(rewards.tolist()) == {2.0, 3.0, 4.0}
    torch.testing.assert_close(next_states[:, 0], states[:, 0] + 1)
    torch.testing.assert_close(dones, (rewards == 4.0).float())


def test_epsilon_greedy_and_its_schedule():
    generator = torch.Generator().manual_seed(0)
    q = torch.tensor([0.1, 2.0, -1.0])
    assert all(epsilon_greedy(q, 0.0, generator) == 1 for _ in range(20))
    random_actions = [epsilon_greedy(q, 1.0, generator) for _ in range(300)]
    assert set(random_actions) == {0, 1, 2}
    assert linear_epsilon(0, 1.0, 0.1, 100) == 1.0
    assert linear_epsilon(50, 1.0, 0.1, 100) == pytest.approx(0.55)
    assert linear_epsilon(500, 1.0, 0.1, 100) == pytest.approx(0.1)


def test_a_short_training_run_on_cartpole_is_reproducible():
    gym = pytest.importorskip("gymnasium")
    config = DQNConfig(steps=400, hidden=16, warmup=100, target_every=50, epsilon_decay=200)
    runs = [train_dqn(gym.make("CartPole-v1"), config, seed=3, progress=False) for _ in range(2)]
    assert runs[0].episode_returns == runs[1].episode_returns and len(runs[0].episode_returns) > 3
    torch.testing.assert_close(runs[0].q_network.layers[0].weight, runs[1].q_network.layers[0].weight)
    returns = evaluate_policy(gym.make("CartPole-v1"), greedy_policy(runs[0].q_network), episodes=2)
    assert len(returns) == 2 and all(1 <= r <= 500 for r in returns)

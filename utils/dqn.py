"""Deep Q-learning (Mnih et al., 2013, 2015) for small Gymnasium environments.

A Q-network scores every action in a state; acting greedily on it is the policy. It is
trained on transitions (s, a, r, s', done) replayed at random from a buffer (Mnih et al.,
2013), towards the target y = r + gamma (1 - done) max_a' Q_target(s', a'), where Q_target
is a copy of the network refreshed only every ``target_every`` steps (the target network of
Mnih et al., 2015, refreshed there every 10,000 updates).
"""
import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_tensor
from .layers import MLP


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` transitions, sampled uniformly at random.

    Sampling old transitions at random breaks the correlation between consecutive steps,
    and lets each one be learned from many times.
    """

    def __init__(self, capacity: int, obs_dim: int, seed: int = 0):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.size, self.next = capacity, 0, 0
        self.states = torch.zeros(capacity, obs_dim)
        self.actions = torch.zeros(capacity, dtype=torch.int64)
        self.rewards = torch.zeros(capacity)
        self.next_states = torch.zeros(capacity, obs_dim)
        self.dones = torch.zeros(capacity)
        self.generator = torch.Generator().manual_seed(seed)

    def push(self, state, action: int, reward: float, next_state, done: bool) -> None:
        i = self.next
        self.states[i] = torch.as_tensor(state, dtype=torch.float32)
        self.actions[i], self.rewards[i], self.dones[i] = action, reward, float(done)
        self.next_states[i] = torch.as_tensor(next_state, dtype=torch.float32)
        self.next = (i + 1) % self.capacity  # overwrite the oldest once full
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """(states, actions, rewards, next_states, dones) of ``batch_size`` random transitions."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(self.size, (batch_size,), generator=self.generator)
        return self.states[index], self.actions[index], self.rewards[index], self.next_states[index], self.dones[index]

    def __len__(self) -> int:
        return self.size


def dqn_targets(rewards: torch.Tensor, next_q_target: torch.Tensor, dones: torch.Tensor,
                gamma: float) -> torch.Tensor:
    """y = r + gamma (1 - done) max_a' Q_target(s', a').

    Shapes: rewards (B,), next_q_target (B, A) the target network's scores of s', dones (B,)
    1.0 where s' is terminal (then there is no future to bootstrap from) -> y (B,).
    """
    check_tensor(next_q_target, "next_q_target", shape=("B", "A"), dtype="floating")
    check_tensor(rewards, "rewards", shape=(len(next_q_target),))
    check_tensor(dones, "dones", shape=(len(next_q_target),))
    return rewards + gamma * (1.0 - dones.to(next_q_target.dtype)) * next_q_target.max(dim=1).values


def epsilon_greedy(q_values: torch.Tensor, epsilon: float, generator: torch.Generator) -> int:
    """A random action with probability epsilon, else the action of highest Q. q_values (A,)."""
    check_tensor(q_values, "q_values", shape=("A",))
    if torch.rand((), generator=generator).item() < epsilon:
        return int(torch.randint(len(q_values), (), generator=generator))
    return int(q_values.argmax())


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """Epsilon falls linearly from ``start`` to ``end`` over ``decay_steps`` steps, then stays."""
    return end + (start - end) * max(0.0, 1.0 - step / decay_steps)


@dataclass
class DQNConfig:
    """Hyper-parameters of :func:`train_dqn` (Mnih et al.'s recipe, scaled down to CartPole)."""

    steps: int = 20_000
    hidden: int = 128
    lr: float = 1e-3
    gamma: float = 0.99
    batch_size: int = 64
    buffer_size: int = 20_000
    warmup: int = 1_000          # random steps before learning starts
    target_every: int = 500      # copy the online network into the target network this often
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay: int = 10_000


@dataclass
class DQNResult:
    q_network: nn.Module
    episode_returns: list[float] = field(default_factory=list)
    episode_ends: list[int] = field(default_factory=list)  # the step at which each episode ended


def train_dqn(env, config: DQNConfig = DQNConfig(), seed: int = 0, progress: bool = True) -> DQNResult:
    """Train a Q-network on a Gymnasium environment with a discrete action space.

    Every step: act epsilon-greedily, store the transition, then (after ``warmup``) take one
    gradient step of the Huber loss between Q(s, a) and the target :func:`dqn_targets` on a
    sampled batch. Only termination stops bootstrapping: an episode cut off by a time limit
    (``truncated``) could have gone on. Runs on the CPU (the networks are tiny).
    """
    torch.manual_seed(seed)
    obs_dim, n_actions = env.observation_space.shape[0], env.action_space.n
    q_network = MLP([obs_dim, config.hidden, config.hidden, n_actions])
    target_network = copy.deepcopy(q_network)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=config.lr)
    buffer = ReplayBuffer(config.buffer_size, obs_dim, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    result = DQNResult(q_network)
    state, _ = env.reset(seed=seed)
    episode_return = 0.0
    for step in tqdm(range(config.steps), desc="DQN steps", disable=not progress, mininterval=1.0):
        epsilon = linear_epsilon(step, config.epsilon_start, config.epsilon_end, config.epsilon_decay)
        with torch.no_grad():
            q_values = q_network(torch.as_tensor(state, dtype=torch.float32)[None])[0]
        action = epsilon_greedy(q_values, epsilon if step >= config.warmup else 1.0, generator)
        next_state, reward, terminated, truncated, _ = env.step(action)
        buffer.push(state, action, reward, next_state, terminated)
        state, episode_return = next_state, episode_return + reward
        if terminated or truncated:
            result.episode_returns.append(episode_return)
            result.episode_ends.append(step)
            state, _ = env.reset()
            episode_return = 0.0
        if step >= config.warmup:
            s, a, r, s_next, done = buffer.sample(config.batch_size)
            with torch.no_grad():
                y = dqn_targets(r, target_network(s_next), done, config.gamma)
            q_sa = q_network(s).gather(1, a.view(-1, 1)).squeeze(1)
            loss = F.smooth_l1_loss(q_sa, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if step % config.target_every == 0:
            target_network.load_state_dict(q_network.state_dict())
    return result


def evaluate_policy(env, policy, episodes: int = 10, seed: int = 1_000) -> list[float]:
    """The return of each of ``episodes`` episodes, ``policy(state) -> action``; episode i is
    reset with seed ``seed + i``, so two policies are compared on the same starts."""
    returns = []
    for i in range(episodes):
        state, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            state, reward, terminated, truncated, _ = env.step(policy(state))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return returns


def greedy_policy(q_network: nn.Module):
    """The policy that always takes the action of highest Q: state -> int."""
    @torch.no_grad()
    def policy(state) -> int:
        return int(q_network(torch.as_tensor(state, dtype=torch.float32)[None]).argmax())
    return policy

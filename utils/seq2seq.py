"""A GRU encoder-decoder, with or without Bahdanau attention: the model attention was invented for.

The encoder reads the input and keeps its state after every character, (B, T, H). Without
attention the decoder sees only the last of those states: the whole input squeezed into one
H-wide vector (the "fixed-length bottleneck"). With attention the decoder, before each output
character, scores every encoder state against its own state, takes the softmax of the scores
as weights and reads their weighted mean, the *context*: a soft lookup it can point anywhere
in the input (Bahdanau, Cho and Bengio 2014).

The GRU is chapter 6's (``utils.lstm_gru.GRU`` and ``GRUCell``, which equal PyTorch's): a
recurrent cell with gates; here it is only a box that carries a state from step to step.
"""
import torch
from torch import nn

from .checks import check_tensor
from .lstm_gru import GRU, GRUCell


class AdditiveAttention(nn.Module):
    """Bahdanau's attention: score, softmax, weighted mean.

    e_j = v^T tanh(W_q q + W_k k_j),  alpha = softmax(e),  context = sum_j alpha_j k_j.
    Shapes: query q (B, Q), keys (B, T, K), mask (B, T) bool (True: a real position)
    -> context (B, K), alpha (B, T). Masked positions get weight exactly 0. A decoder asks
    about the same keys at every step, so it can pass ``projected_keys`` = W_k keys
    (:meth:`project_keys`), computed once.
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.W_q = nn.Linear(query_size, hidden_size, bias=False)
        self.W_k = nn.Linear(key_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """W_k k_j for every key: (B, T, K) -> (B, T, hidden)."""
        return self.W_k(keys)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None,
                projected_keys: torch.Tensor | None = None):
        check_tensor(query, "query", shape=("B", self.W_q.in_features), dtype="floating")
        check_tensor(keys, "keys", shape=(len(query), None, self.W_k.in_features), dtype=query.dtype,
                     device=query.device)
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        scores = self.v(torch.tanh(self.W_q(query)[:, None] + projected_keys)).squeeze(-1)  # e: (B, T)
        if mask is not None:
            check_tensor(mask, "mask", shape=scores.shape, dtype=torch.bool, device=query.device)
            scores = scores.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
        context = (alpha[:, :, None] * keys).sum(dim=1)  # sum_j alpha_j k_j
        return context, alpha


class Seq2Seq(nn.Module):
    """Encoder-decoder for character sequences, with ``attention=True`` or without.

    Encoder: embedding -> GRU, states (B, T, H). Decoder, one output character at a time
    from the state s (initially the encoder's last state):
      without attention:  s = GRU(s, embed(y_prev)),             logits = W [s]
      with attention:     c, alpha = attend(s, encoder states)
                          s = GRU(s, [embed(y_prev), c]),        logits = W [s, c]
    Shapes: sources (B, T) int64 with their mask (B, T) bool, targets (B, L) int64 whose
    first column is the <start> id -> logits (B, L - 1, target_vocab) for targets[:, 1:],
    and attention weights (B, L - 1, T) (None without attention).
    """

    def __init__(self, source_vocab: int, target_vocab: int, hidden_size: int = 128,
                 embed_size: int = 32, attention: bool = True):
        super().__init__()
        self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size) if attention else None
        context_size = hidden_size if attention else 0
        self.source_embedding = nn.Embedding(source_vocab, embed_size, padding_idx=0)
        self.encoder = GRU(embed_size, hidden_size)
        self.target_embedding = nn.Embedding(target_vocab, embed_size)
        self.decoder = GRUCell(embed_size + context_size, hidden_size)
        self.head = nn.Linear(hidden_size + context_size, target_vocab)

    def encode(self, sources: torch.Tensor, mask: torch.Tensor):
        """Sources (B, T) -> what every decoder step needs: the encoder states (B, T, H), their
        attention projections (None without attention) and the mask; and the last state (B, H)."""
        check_tensor(sources, "sources", shape=("B", "T"), dtype=torch.int64, device=self.head.weight.device)
        states, last = self.encoder(self.source_embedding(sources))
        projected = None if self.attention is None else self.attention.project_keys(states)
        return (states, projected, mask), last[0]

    def decode_step(self, previous: torch.Tensor, state: torch.Tensor, encoded):
        """One output character: previous ids (B,), state (B, H) -> logits (B, V), new state, alpha (B, T) or None."""
        x = self.target_embedding(previous)
        if self.attention is None:
            state = self.decoder(x, state)
            return self.head(state), state, None
        keys, projected_keys, mask = encoded
        context, alpha = self.attention(state, keys, mask, projected_keys)
        state = self.decoder(torch.cat([x, context], dim=1), state)
        return self.head(torch.cat([state, context], dim=1)), state, alpha

    def forward(self, sources: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor):
        """Teacher forcing: the decoder is fed the true previous character at every step."""
        check_tensor(targets, "targets", shape=(len(sources), None), dtype=torch.int64, device=sources.device)
        encoded, state = self.encode(sources, mask)
        logits, alphas = [], []
        for t in range(targets.shape[1] - 1):
            step_logits, state, alpha = self.decode_step(targets[:, t], state, encoded)
            logits.append(step_logits)
            alphas.append(alpha)
        return torch.stack(logits, dim=1), None if self.attention is None else torch.stack(alphas, dim=1)

    @torch.no_grad()
    def translate(self, sources: torch.Tensor, mask: torch.Tensor, length: int):
        """Greedy decoding: each step feeds back the model's own likeliest character.

        Returns ids (B, length) and attention weights (B, length, T) (None without attention).
        """
        encoded, state = self.encode(sources, mask)
        previous = torch.zeros(len(sources), dtype=torch.int64, device=sources.device)  # <start>
        out, alphas = [], []
        for _ in range(length):
            logits, state, alpha = self.decode_step(previous, state, encoded)
            previous = logits.argmax(dim=1)
            out.append(previous)
            alphas.append(alpha)
        return torch.stack(out, dim=1), None if self.attention is None else torch.stack(alphas, dim=1)

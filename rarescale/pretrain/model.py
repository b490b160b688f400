"""Section 4's models (C17): OLMo-2 from transformers, in a named size ladder.

The architecture is transformers' ``Olmo2ForCausalLM`` (RMSNorm after
attention and MLP, QK-norm, SwiGLU, rotary positions), not a hand-written
transformer. Sizes follow OLMo's DataDecide ladder (``scripts/ladder.py``):
``4M`` is d_model 64, 8 heads, 8 layers, MLP ratio 8, up to ``1B``; below it
are CPU sizes for this book's ladder. The MLP ratio counts both halves of the
SwiGLU projection, as OLMo does: the intermediate width is ``ratio · d / 2``.

The ladder's rules (DataDecide) give the batch and the peak learning rate from
the non-embedding parameter count ``N``:
``batch ≈ 160 · (N / 108e6)^(2/3)`` sequences of 2048 tokens and
``lr = 0.0047 · (N / 108e6)^(−1/3)``. For shorter sequences we keep the
batch's *tokens*: ``160 · 2048 · (N / 108e6)^(2/3) / seq_len`` sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from rarescale.validation import ConfigError, Interval, check


@dataclass(frozen=True)
class ModelSize:
    """One rung of the ladder."""

    name: str
    """The rung's name (the DataDecide ladder's, where it has one)."""
    d_model: int
    """Width of the residual stream."""
    n_heads: int
    """Attention heads per layer (each ``d_model / n_heads`` wide)."""
    n_layers: int
    """Decoder layers."""
    mlp_ratio: int = 8
    """The SwiGLU hidden width is ``mlp_ratio · d_model / 2``."""

    def __post_init__(self):
        for name in ("d_model", "n_heads", "n_layers", "mlp_ratio"):
            check("ModelSize", name, getattr(self, name), Interval(Integral, 1, None))
        if self.d_model % self.n_heads:
            raise ConfigError(f"ModelSize.n_heads must divide d_model={self.d_model}. "
                              f"Got {self.n_heads} instead.")

    @property
    def intermediate(self) -> int:
        return self.mlp_ratio * self.d_model // 2

    def non_embedding_params(self) -> int:
        """Parameters outside the embedding and the output layer (closed form)."""
        d, f = self.d_model, self.intermediate
        attention = 4 * d * d + 2 * d  # q, k, v, o and the two QK-norms
        mlp = 3 * d * f
        norms = 2 * d  # post-attention and post-MLP RMSNorm
        return self.n_layers * (attention + mlp + norms) + d  # + the final norm

    def total_params(self, vocab_size: int) -> int:
        """All parameters: non-embedding plus input embedding and (untied) output layer."""
        return self.non_embedding_params() + 2 * vocab_size * self.d_model


_RUNGS = [
    # CPU sizes, below the DataDecide ladder
    ModelSize("12K", d_model=16, n_heads=2, n_layers=3),
    ModelSize("30K", d_model=32, n_heads=4, n_layers=2),
    ModelSize("100K", d_model=48, n_heads=4, n_layers=3),
    ModelSize("250K", d_model=64, n_heads=4, n_layers=4),
    ModelSize("600K", d_model=80, n_heads=4, n_layers=6),
    ModelSize("1M", d_model=96, n_heads=6, n_layers=8),
    # DataDecide's ladder (names are theirs)
    ModelSize("4M", d_model=64, n_heads=8, n_layers=8),
    ModelSize("20M", d_model=192, n_heads=8, n_layers=16),
    ModelSize("60M", d_model=384, n_heads=12, n_layers=16),
    ModelSize("90M", d_model=528, n_heads=12, n_layers=16),
    ModelSize("150M", d_model=768, n_heads=12, n_layers=12),
    ModelSize("300M", d_model=1024, n_heads=16, n_layers=16),
    ModelSize("530M", d_model=1344, n_heads=16, n_layers=16),
    ModelSize("750M", d_model=1536, n_heads=16, n_layers=16),
    ModelSize("1B", d_model=2048, n_heads=16, n_layers=16),
    # beyond DataDecide, to the paper's largest: OLMo-2's shape at d_model 3072 (3.9B non-embedding)
    ModelSize("4B", d_model=3072, n_heads=24, n_layers=26),
]
LADDER: dict[str, ModelSize] = {s.name: s for s in _RUNGS}


def padded_vocab(vocab_size: int) -> int:
    """``vocab_size`` rounded up to a multiple of 128, so that the embedding and output matrices
    tile on GPU tensor cores (the extra rows are never a target and learn to score low)."""
    return -(-vocab_size // 128) * 128


def model_size(name: str) -> ModelSize:
    """The ladder rung called ``name``; a one-line error lists the names."""
    if name not in LADDER:
        raise ConfigError(f"size must be one of {', '.join(LADDER)}. Got {name!r} instead.")
    return LADDER[name]


def ladder_batch(size: ModelSize, seq_len: int) -> int:
    """Sequences per batch by DataDecide's rule, at the same tokens per batch, rounded to 8."""
    n = size.non_embedding_params()
    tokens = 160 * 2048 * (n / 108e6) ** (2 / 3)
    return max(8, int(round(tokens / seq_len / 8)) * 8)


def ladder_lr(size: ModelSize) -> float:
    """Peak learning rate by DataDecide's rule."""
    return 0.0047 * (size.non_embedding_params() / 108e6) ** (-1 / 3)


def build_model(size: ModelSize, vocab_size: int, seq_len: int, eos: int, seed: int):
    """An initialised ``Olmo2ForCausalLM`` of this size (seeded, fp32, untied output)."""
    import torch
    from transformers import Olmo2Config, Olmo2ForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    config = Olmo2Config(
        vocab_size=vocab_size, hidden_size=size.d_model, num_hidden_layers=size.n_layers,
        num_attention_heads=size.n_heads, num_key_value_heads=size.n_heads,
        intermediate_size=size.intermediate, max_position_embeddings=max(seq_len, 4),
        pad_token_id=eos, bos_token_id=None, eos_token_id=eos, tie_word_embeddings=False,
        initializer_range=0.02, rope_theta=10_000.0,
        use_cache=False)  # no key/value cache: nothing here generates, and eval forwards built one
    config._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    model = Olmo2ForCausalLM(config)
    counted = sum(p.numel() for p in model.parameters())
    expected = size.total_params(vocab_size)
    if counted != expected:  # the closed form is what the book reports; keep it honest
        raise RuntimeError(f"parameter count {counted} != closed form {expected} for {size.name}")
    return model

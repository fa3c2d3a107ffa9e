"""``strategy.transducer`` options, checked up front (one clear ConfigError line on a bad value)."""
from __future__ import annotations

from dataclasses import dataclass, fields

from codereuse.errors import ConfigError

GNNS = ("gatv2", "gcn", "sage")
STARTS = ("anchored", "gated")
FUSE_AT = ("input", "output")


@dataclass(frozen=True)
class TransducerConfig:
    gnn: str = "gatv2"      # gatv2 | gcn | sage (torch_geometric layers)
    layers: int = 2         # message-passing layers
    hidden: int = 64        # GNN hidden size = fusion attention size
    heads: int = 4          # attention heads (GATv2 and fusion)
    max_nodes: int = 512    # graph truncation limit (the graph builder's stated rule)
    span_bias: bool = True  # bias each token's attention toward the nodes whose span covers it
    # how training starts from the unmodified backbone: "anchored" subtracts the fusion output of
    # the initial weights (residual exactly 0, every parameter gets gradient at step 1); "gated"
    # multiplies it by tanh(alpha), alpha = 0 (only alpha gets gradient at step 1)
    start: str = "anchored"
    shuffle_graphs: bool = False  # the control: every example is fused with another example's graph
    # where the graph enters: "input" = the token embeddings (inputs_embeds, the paper's design);
    # "output" = the frozen backbone's last-layer token states, before pooling and the head
    fuse_at: str = "input"
    # fuse_at=output on an encoder: compute the frozen backbone's states once per example and replay
    # them (the backbone's function does not change while the transducer trains)
    cache: bool = False
    # node features also from the token vectors being fused: each node gets the mean of the ones its
    # span holds (with fuse_at=output, the backbone's contextual last-layer states); nodes past the
    # token limit keep only their text's word embeddings
    node_states: bool = False

    @classmethod
    def from_dict(cls, options: dict | None) -> "TransducerConfig":
        options = dict(options or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError("strategy.transducer", unknown, sorted(known), "unknown option")
        config = cls(**options)
        config.check()
        return config

    def check(self) -> None:
        if self.gnn not in GNNS:
            raise ConfigError("strategy.transducer.gnn", self.gnn, GNNS)
        if self.start not in STARTS:
            raise ConfigError("strategy.transducer.start", self.start, STARTS)
        if self.fuse_at not in FUSE_AT:
            raise ConfigError("strategy.transducer.fuse_at", self.fuse_at, FUSE_AT)
        if self.cache and self.fuse_at != "output":
            raise ConfigError("strategy.transducer.cache", True, hint="needs fuse_at=output: fused input embeddings "
                              "change what the backbone computes, so its states cannot be replayed")
        for key in ("layers", "hidden", "heads", "max_nodes"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"strategy.transducer.{key}", getattr(self, key), hint="must be at least 1")
        if self.hidden % self.heads:
            raise ConfigError("strategy.transducer.hidden", self.hidden, hint=f"must be divisible by heads={self.heads}")

"""Run a benchmarks/real script with a per-joint embedding in the GIN (a study, not a setting).

The graph SkeletonMAE's GIN (skelssl.backbones.gin) gives a node only its projected coordinates:
a masked joint's [MASK] vector says nothing of which joint it is, so the model must infer that
from the graph and the visible neighbours. pretext_baselines.py measured that a constant direction
per joint beats the pretrained model on its own loss (docs/real-data-tuning.md, "Nineteenth
session"). This wrapper tests whether joint identity is what limits it: it adds a learnable
vector per joint (init truncated normal, std `STD`) to every node's features after the [MASK]
replacement, in pretraining, in the random twin and in the probe's readout alike, then runs the
given script unchanged in the same process.

Usage: python benchmarks/real/gin_joint_embedding.py STD SCRIPT [ARGS...]
  e.g. python benchmarks/real/gin_joint_embedding.py 1.0 benchmarks/real/tune.py --dataset msr \
       --method skeletonmae_graph --align --scale rms --seed 0 --probe epochs=200,batch_size=16 \
       --label "GIN joint embedding std 1.0 (19th)"
"""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from skelssl.backbones import gin


@contextlib.contextmanager
def joint_embedding(std: float) -> Iterator[None]:
    """Within the block, every new GIN has `joint_embed` (V, dim), added in `encode_nodes`."""
    original_init, original_encode = gin.GIN.__init__, gin.GIN.encode_nodes

    def init(self, cfg, layout, frames, channels=None):
        original_init(self, cfg, layout, frames, channels)
        self.joint_embed = nn.Parameter(torch.zeros(layout.num_joints, cfg.dim))
        nn.init.trunc_normal_(self.joint_embed, std=std)

    def encode_nodes(self, features):
        return original_encode(self, features + self.joint_embed.to(features.dtype))

    gin.GIN.__init__, gin.GIN.encode_nodes = init, encode_nodes
    try:
        yield
    finally:
        gin.GIN.__init__, gin.GIN.encode_nodes = original_init, original_encode


def main() -> None:
    std, script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    sys.path.insert(0, str(Path(script).resolve().parent))
    with joint_embedding(float(std)):
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()

"""Masking strategies as pure torch functions: (inputs, params, generator) → Mask."""

from skelssl.masking.common import Mask, token_motion
from skelssl.masking.tube import motion_aware_tube_mask

__all__ = ["Mask", "motion_aware_tube_mask", "token_motion"]

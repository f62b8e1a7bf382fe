"""numba-accelerated preprocessing kernels over ``(F, M, V, C)`` float32 skeleton samples."""

from skelssl.kernels.batch import preprocess_batch, preprocess_batch_kernel
from skelssl.kernels.motion import motion, motion_magnitude
from skelssl.kernels.normalize import align_view, center, first_present_frame, person_present, rms_scale
from skelssl.kernels.resample import crop_resize, valid_length

__all__ = [
    "align_view",
    "center",
    "crop_resize",
    "first_present_frame",
    "motion",
    "motion_magnitude",
    "person_present",
    "preprocess_batch",
    "preprocess_batch_kernel",
    "rms_scale",
    "valid_length",
]

"""params.yaml → one pydantic model. The only module that reads params.yaml.

Every model forbids unknown keys and is frozen; every field that changes results is required,
so params.yaml is complete and `dvc params diff` tells the whole story.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from skelssl.errors import ParamsError

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------- base


class BaseParams(Strict):
    seed: Annotated[int, Field(ge=0)]
    split: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]  # benchmark: a `<split>_train` column of the dataset (NTU: xsub, xview, xsub120, xset)


# ---------------------------------------------------------------------------- synthesize


class FrameRange(Strict):
    min: Annotated[int, Field(ge=8)]
    max: Annotated[int, Field(ge=8)]

    @model_validator(mode="after")
    def _ordered(self) -> FrameRange:
        if self.max < self.min:
            raise ValueError("max must be >= min")
        return self


class SynthNoise(Strict):
    jitter: NonNegFloat  # std of Kinect-like per-joint noise, metres
    inferred_prob: Annotated[float, Field(ge=0, le=1)]  # per joint-frame: tracking state 1
    zero_body_frame_prob: Annotated[float, Field(ge=0, le=1)]  # per frame: body count 0
    spurious_body_prob: Annotated[float, Field(ge=0, le=1)]  # per sample: an extra fake body


class SynthesizeParams(Strict):
    seed: Annotated[int, Field(ge=0)]
    classes: Annotated[int, Field(ge=2)]  # first N actions of the action library
    subjects: Annotated[int, Field(ge=2, le=106)]  # performers 1..N
    replications: Annotated[int, Field(ge=1, le=2)]
    setups: Annotated[int, Field(ge=1, le=17)]
    frames: FrameRange
    noise: SynthNoise


# ---------------------------------------------------------------------------- ingest


class DenoiseParams(Strict):
    """CTR-GCN/MAMP body denoising thresholds (methods.md §7.2)."""

    min_frames: PositiveInt  # bodies present in <= this many frames are deleted (11)
    spread_ratio: PositiveFloat  # frame is noisy if x-spread > ratio * y-spread (0.8)
    noise_fraction: Fraction  # body deleted if noisy-frame fraction >= this (0.69754)


class PKUMMDParams(Strict):
    """PKU-MMD source (methods.md §7.4, §8.2). Folders: relative to ingest.input, or absolute."""

    phase: Literal[1, 2]
    skeletons: str  # folder of <video>.txt skeleton files; "auto": skeleton, Skeleton, PKU_Skeleton_Renew, ...
    labels: str  # folder of <video>.txt label files; "auto": label, Label, Train_Label_PKU_final, ...
    splits: str  # folder of the cross-subject / cross-view split files; "auto": split, Split, splits
    frames: Literal["inclusive", "mamp"]  # label range → rows: [start-1, end] (1-based inclusive) or MAMP's [start, end)


class NpzParams(Strict):
    benchmark: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]  # ctrgcn_npz: x_train/x_test → `<benchmark>_train`


class IngestParams(Strict):
    source: Literal["ntu", "msr_action3d", "utkinect", "sbu", "generic", "pku_mmd", "ctrgcn_npz", "pyskl"]  # skelssl.data.sources.SOURCES
    input: str  # the dataset folder (or file) in that format
    layout: str  # generic source only: a skelssl.skeleton.LAYOUTS key ("auto": the source's own layout)
    labels: str  # label file inside `input`: "default" = the source's own (utkinect: actionLabel.txt)
    on_error: Literal["fail", "skip"]
    second_person: Literal["zeros", "copy"]  # single-actor samples: NTU-60 vs NTU-120 scripts
    denoise: DenoiseParams
    workers: Annotated[int, Field(ge=0)]  # reader processes; 0 = all cores (output identical)
    ntu_missing: Literal["skip", "keep"]  # ntu: the official missing-skeleton samples (302 / 535, methods.md §7.1)
    pku_mmd: PKUMMDParams
    npz: NpzParams

    @model_validator(mode="after")
    def _known_layout(self) -> IngestParams:
        from skelssl.skeleton import LAYOUTS  # no import cycle: skeleton imports nothing of ours

        if self.layout != "auto" and self.layout not in LAYOUTS:
            raise ValueError(f"layout must be 'auto' or one of {sorted(LAYOUTS)}, got {self.layout!r}")
        return self


# ---------------------------------------------------------------------------- preprocess


class PreprocessParams(Strict):
    frames: Annotated[int, Field(ge=4)]  # T after valid-frame crop + resize
    crop_ratio: Annotated[float, Field(gt=0, le=1)]  # centre crop of the valid frames (0.95 MAMP test)
    center: bool  # subtract the layout's centre joint of actor 1, first valid frame
    align_view: bool  # rotate about the vertical axis so the hips face the camera


# ---------------------------------------------------------------------------- pretrain


class PretrainParams(Strict):
    """Run mechanics shared by every method (optimisation settings live in each method's block)."""

    device: Literal["auto", "cpu", "cuda"]
    threads: Annotated[int, Field(ge=0)]  # torch CPU threads; 0 keeps torch's default
    amp: bool  # bf16 autocast (CUDA or CPU)
    grad_accum: PositiveInt  # micro-batches per optimiser step (per process)
    checkpoint_every: Annotated[int, Field(ge=0)]  # epochs between resumable checkpoints; 0 = none


class OptimParams(Strict):
    name: Literal["adamw", "adam"]
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    min_lr: NonNegFloat
    warmup_epochs: Annotated[int, Field(ge=0)]
    weight_decay: NonNegFloat
    betas: tuple[Fraction, Fraction]
    grad_clip: NonNegFloat  # 0 disables clipping


class RotationAugment(Strict):
    rotation: NonNegFloat  # random rotation angle bound per axis, radians (MAMP, Skeleton2vec)


# ---------------------------------------------------------------------------- backbones


class TransformerParams(Strict):
    name: Literal["transformer"]
    dim: PositiveInt
    depth: PositiveInt
    heads: PositiveInt
    mlp_ratio: PositiveFloat
    t_patch: PositiveInt  # frames per temporal segment (token = segment x joint)
    layer_scale: NonNegFloat  # LayerScale init; 0 disables
    drop_path: Annotated[float, Field(ge=0, lt=1)]

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> TransformerParams:
        if self.dim % self.heads:
            raise ValueError("dim must be divisible by heads")
        return self


class STGCNParams(Strict):
    """ST-GCN (PSTL's quarter width: channels 16..64, output 256; methods.md §5.1)."""

    name: Literal["stgcn"]
    hidden_channels: PositiveInt  # 16: units use 1x,1x,1x,1x,2x,2x,2x,4x,4x this, then hidden_dim
    hidden_dim: PositiveInt  # 256
    temporal_kernel: PositiveInt  # 9
    dropout: Annotated[float, Field(ge=0, lt=1)]  # 0.5
    edge_importance: bool


class GINParams(Strict):
    """GIN over the per-frame skeleton graph (graph SkeletonMAE, methods.md §3.1)."""

    name: Literal["gin"]
    dim: PositiveInt  # D: joint coordinates projected to D (64 in the paper)
    hidden: PositiveInt  # hidden width (unverified in the paper)
    layers: PositiveInt  # encoder GIN layers (3 best)


BackboneParams = Annotated[TransformerParams | STGCNParams | GINParams, Field(discriminator="name")]


class DecoderParams(Strict):
    dim: PositiveInt
    depth: PositiveInt
    heads: PositiveInt


# ---------------------------------------------------------------------------- methods


class TubeMaskParams(Strict):
    ratio: Fraction  # fraction of joints masked inside each tube
    tube_tokens: PositiveInt  # temporal tokens per tube
    motion_weight: NonNegFloat  # s_tau: weight of normalised motion against U(0,1) noise


class EmaParams(Strict):
    start: Annotated[float, Field(ge=0, le=1)]
    end: Annotated[float, Field(ge=0, le=1)]
    anneal_fraction: Annotated[float, Field(gt=0, le=1)]  # of all steps


class Skeleton2vecParams(Strict):
    optim: OptimParams
    augment: RotationAugment
    backbone: TransformerParams
    decoder: DecoderParams
    mask: TubeMaskParams
    top_k: PositiveInt  # teacher blocks averaged into the target
    target_norm: Literal["instance", "layer"]  # per-layer normalisation before averaging
    ema: EmaParams
    skip_absent_persons: bool  # drop all-zero person sequences from the step (CPU saving)
    export: Literal["teacher", "student"]  # which encoder leaves pretraining

    @model_validator(mode="after")
    def _top_k_within_depth(self) -> Skeleton2vecParams:
        if self.top_k > self.backbone.depth:
            raise ValueError("top_k must be <= backbone.depth")
        return self


class MotionMaskParams(Strict):
    ratio: Fraction  # 0.9
    tau: PositiveFloat  # softmax temperature of the motion prior (0.8 NTU-60, 0.75 NTU-120)


class MampParams(Strict):
    optim: OptimParams
    augment: RotationAugment
    backbone: TransformerParams
    decoder: DecoderParams
    mask: MotionMaskParams
    norm_target: bool  # per-token zero-mean/unit-variance motion target
    skip_absent_persons: bool


class SpatialTemporalMaskParams(Strict):
    joint_ratio: Annotated[float, Field(ge=0, lt=1)]  # joints masked in every segment
    frame_ratio: Annotated[float, Field(ge=0, lt=1)]  # segments masked for every joint


class SkeletonMAESTParams(Strict):
    optim: OptimParams
    augment: RotationAugment
    backbone: TransformerParams
    decoder: DecoderParams
    mask: SpatialTemporalMaskParams
    norm_target: bool  # per-token normalised coordinate target (MAE's norm_pix_loss)
    skip_absent_persons: bool


class BodyPartMaskParams(Strict):
    parts: PositiveInt  # body parts (of the layout's parts) replaced by the mask token per graph


class GraphAugment(Strict):
    noise: NonNegFloat  # std of coordinate noise added to joints during pretraining


class SkeletonMAEGraphParams(Strict):
    optim: OptimParams
    augment: GraphAugment
    backbone: GINParams
    mask: BodyPartMaskParams
    sce_beta: PositiveFloat  # exponent of the scaled cosine error (2)


class PSTLAugment(Strict):
    shear: NonNegFloat  # off-diagonal shear entries U(-shear, shear)
    rotation_main: NonNegFloat  # degrees, one random main axis
    rotation_other: NonNegFloat  # degrees, the two other axes
    flip_prob: Annotated[float, Field(ge=0, le=1)]  # left/right joint swap


class PSTLMaskParams(Strict):
    csm_joints: Annotated[int, Field(ge=0)]  # central spatial masking draws (8)
    matm_frames: Annotated[int, Field(ge=0)]  # highest-motion frames dropped (10)
    matm_random_frames: Annotated[int, Field(ge=0)]  # further random frames dropped (10)


class PSTLParams(Strict):
    optim: OptimParams
    augment: PSTLAugment
    backbone: STGCNParams
    mask: PSTLMaskParams
    projector_dim: PositiveInt  # 6144
    lambd: PositiveFloat  # Barlow Twins off-diagonal weight (2e-4)


class MethodsParams(Strict):
    skeleton2vec: Skeleton2vecParams
    skeletonmae_st: SkeletonMAESTParams
    skeletonmae_graph: SkeletonMAEGraphParams
    pstl: PSTLParams
    mamp: MampParams


MethodName = Literal["skeleton2vec", "skeletonmae_st", "skeletonmae_graph", "pstl", "mamp"]
MethodParams = Skeleton2vecParams | SkeletonMAESTParams | SkeletonMAEGraphParams | PSTLParams | MampParams


# ---------------------------------------------------------------------------- evaluate


class LinearParams(Strict):
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    momentum: Annotated[float, Field(ge=0, lt=1)]
    weight_decay: NonNegFloat


class KnnParams(Strict):
    k: PositiveInt
    temperature: PositiveFloat


class FinetuneParams(Strict):
    """End-to-end training of encoder + head: full fine-tuning, the semi-supervised protocol and the
    supervised-from-scratch baseline (same recipe from a random init)."""

    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat  # peak lr (AdamW, linear warmup then cosine to min_lr, per step)
    min_lr: NonNegFloat
    warmup_epochs: Annotated[int, Field(ge=0)]
    weight_decay: NonNegFloat
    layer_decay: Annotated[float, Field(gt=0, le=1)]  # layer-wise lr decay (transformer encoders)
    drop_path: Annotated[float, Field(ge=0, lt=1)]  # stochastic depth (transformer encoders)
    label_smoothing: Annotated[float, Field(ge=0, lt=1)]


class SemiParams(Strict):
    fractions: list[Fraction]  # fractions of the training labels kept (the papers: 0.01, 0.1)
    repeats: PositiveInt  # subsets drawn per fraction; reported as mean ± std
    balanced: bool  # class-balanced subsets (at least one clip per class) or plain random
    epochs: PositiveInt  # fine-tuning epochs on a subset (the rest of the recipe: evaluate.finetune)


class RobustnessParams(Strict):
    drop: list[Annotated[int, Field(ge=0)]]  # numbers k of joints removed (zeroed) at test time
    modes: list[Literal["random", "centrality"]]  # uniform, or weighted by node degree
    repeats: PositiveInt  # random draws per (mode, k), averaged


class StreamsParams(Strict):
    streams: list[Literal["joint", "bone", "motion"]]  # input representations, ensembled by score
    epochs: PositiveInt  # pretraining epochs of each stream other than joint


class TransferParams(Strict):
    """The embedded transfer target: the synthesizer re-run with another seed, other subjects and a
    noisier sensor (a stand-in for NTU → PKU-MMD II); fine-tuned with `evaluate.finetune`."""

    seed: Annotated[int, Field(ge=0)]  # synthesizer seed of the target dataset
    subjects: Annotated[int, Field(ge=2, le=106)]
    jitter: NonNegFloat  # sensor noise of the target, metres
    epochs: PositiveInt  # fine-tuning epochs on the target


class EmbeddingParams(Strict):
    samples: PositiveInt  # test clips in the t-SNE map (class-stratified)
    perplexity: PositiveFloat


class EvaluateParams(Strict):
    batch_size: PositiveInt  # feature extraction
    linear: LinearParams
    knn: KnnParams
    finetune: FinetuneParams
    semi: SemiParams
    robustness: RobustnessParams
    streams: StreamsParams
    transfer: TransferParams
    embedding: EmbeddingParams


# ---------------------------------------------------------------------------- root


class Params(Strict):
    base: BaseParams
    synthesize: SynthesizeParams
    ingest: IngestParams
    preprocess: PreprocessParams
    method: MethodName
    pretrain: PretrainParams
    methods: MethodsParams
    evaluate: EvaluateParams

    @property
    def method_params(self) -> MethodParams:
        return getattr(self.methods, self.method)


def _format_error(err: dict) -> str:
    key = ".".join(str(part) for part in err["loc"]) or "(root)"
    return f"{key}: {err['msg']}"


def validation_messages(exc: ValidationError) -> list[str]:
    return [_format_error(err) for err in exc.errors()]


def read_yaml(path: Path) -> object:
    """Parse YAML 1.2 (ruamel, safe); errors name the file and line."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    try:
        return YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise ParamsError(f"{path}:{line}: invalid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise ParamsError(f"{path}: invalid YAML: {exc}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise ParamsError naming the first bad dotted key."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        messages = validation_messages(exc)
        more = f" (and {len(messages) - 1} more; run `skelssl params check`)" if len(messages) > 1 else ""
        raise ParamsError(f"{path}: {messages[0]}{more}") from None

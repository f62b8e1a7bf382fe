"""params.yaml → one pydantic model. The only module that reads params.yaml.

Every model forbids unknown keys and is frozen; every field that changes results is required,
so params.yaml is complete and `dvc params diff` tells the whole story.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from skelssl.errors import ParamsError

# Types are strict (issue 11): an int field takes only an int (`true` or `1.5` is refused, where
# pydantic's default turns them into 1), a float field an int or a float but no bool or string
# ("1e-3" quoted), a bool field only a YAML boolean (`yes` is a string in YAML 1.2); every float
# must be finite (`.inf` and `.nan` are refused: allow_inf_nan=False below).
PositiveInt = Annotated[StrictInt, Field(gt=0)]
PositiveFloat = Annotated[StrictFloat, Field(gt=0)]
NonNegFloat = Annotated[StrictFloat, Field(ge=0)]
Fraction = Annotated[StrictFloat, Field(gt=0, lt=1)]


def _no_bool(value: object) -> object:
    """For int Literals, which pydantic matches by equality (True == 1, 1.0 == 1)."""
    if isinstance(value, bool):
        raise ValueError("Input should be an integer, not a boolean")
    if not isinstance(value, int):
        raise ValueError("Input should be an integer")
    return value


def _or_auto(expected: str) -> WrapValidator:
    """One error for a `<type> | "auto"` union, where pydantic reports one per member (two lines
    for one wrong value): "Input should be <expected>"."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("or_auto", "Input should be {expected}", {"expected": expected}) from None

    return WrapValidator(validate)


BoolOrAuto = Annotated[StrictBool | Literal["auto"], _or_auto("true, false or 'auto'")]
PositiveIntOrAuto = Annotated[PositiveInt | Literal["auto"], _or_auto("a positive integer or 'auto'")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------- base


class BaseParams(Strict):
    seed: Annotated[StrictInt, Field(ge=0)]
    split: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]  # benchmark: a `<split>_train` column of the dataset (NTU: xsub, xview, xsub120, xset)


# ---------------------------------------------------------------------------- synthesize


class FrameRange(Strict):
    min: Annotated[StrictInt, Field(ge=8)]
    max: Annotated[StrictInt, Field(ge=8)]

    @model_validator(mode="after")
    def _ordered(self) -> FrameRange:
        if self.max < self.min:
            raise ValueError("max must be >= min")
        return self


class SynthNoise(Strict):
    jitter: NonNegFloat  # std of Kinect-like per-joint noise, metres
    inferred_prob: Annotated[StrictFloat, Field(ge=0, le=1)]  # per joint-frame: tracking state 1
    zero_body_frame_prob: Annotated[StrictFloat, Field(ge=0, le=1)]  # per frame: body count 0
    spurious_body_prob: Annotated[StrictFloat, Field(ge=0, le=1)]  # per sample: an extra fake body


class SynthesizeParams(Strict):
    seed: Annotated[StrictInt, Field(ge=0)]
    classes: Annotated[StrictInt, Field(ge=2)]  # first N actions of the action library
    subjects: Annotated[StrictInt, Field(ge=2, le=106)]  # performers 1..N
    replications: Annotated[StrictInt, Field(ge=1, le=2)]
    setups: Annotated[StrictInt, Field(ge=1, le=17)]
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

    phase: Annotated[Literal[1, 2], BeforeValidator(_no_bool)]
    skeletons: str  # folder of <video>.txt skeleton files; "auto": skeleton, Skeleton, PKU_Skeleton_Renew, ...
    labels: str  # folder of <video>.txt label files; "auto": label, Label, Train_Label_PKU_final, ...
    splits: str  # folder of the cross-subject / cross-view split files; "auto": split, Split, splits
    frames: Literal["inclusive", "mamp"]  # label range → rows: [start-1, end] (1-based inclusive) or MAMP's [start, end)


class NpzParams(Strict):
    benchmark: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]  # ctrgcn_npz: x_train/x_test → `<benchmark>_train`


class IngestParams(Strict):
    source: Literal["ntu", "msr_action3d", "utkinect", "sbu", "generic", "pku_mmd", "ctrgcn_npz", "pyskl",
                    "utd_mhad", "penn_action"]  # skelssl.data.sources.SOURCES
    input: str  # the dataset folder (or file) in that format
    layout: str  # generic, pyskl (ntu25 | coco17): a skelssl.skeleton.LAYOUTS key ("auto": the source's own)
    labels: str  # label file inside `input`: "default" = the source's own (utkinect: actionLabel.txt)
    on_error: Literal["fail", "skip"]
    second_person: Literal["zeros", "copy"]  # single-actor samples: NTU-60 vs NTU-120 scripts
    denoise: DenoiseParams
    workers: Annotated[StrictInt, Field(ge=0)]  # reader processes; 0 = all cores (output identical)
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
    frames: Annotated[StrictInt, Field(ge=4, le=4096)]  # T after valid-frame crop + resize (papers: 64-300)
    crop_ratio: Annotated[StrictFloat, Field(gt=0, le=1)]  # centre crop of the valid frames (0.95 MAMP test)
    center: StrictBool  # subtract the layout's centre joint of actor 1, first valid frame
    # rotate about the vertical axis so the hips face the camera; auto: where the layout can be
    # (3D with hips), true: required (an error on 2D layouts), false: never
    align_view: BoolOrAuto
    scale: Literal["none", "rms"]  # rms: divide each clip by its joints' RMS spread (skelssl.kernels.rms_scale)


# ---------------------------------------------------------------------------- pretrain


class PretrainParams(Strict):
    """Run mechanics shared by every method (optimisation settings live in each method's block)."""

    device: Literal["auto", "cpu", "cuda"]
    threads: Annotated[StrictInt, Field(ge=0)]  # torch CPU threads; 0 keeps torch's default
    amp: StrictBool  # bf16 autocast (CUDA or CPU)
    grad_accum: PositiveInt  # micro-batches per optimiser step (per process)
    checkpoint_every: Annotated[StrictInt, Field(ge=0)]  # epochs between resumable checkpoints; 0 = none


class OptimParams(Strict):
    name: Literal["adamw", "adam"]
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    min_lr: NonNegFloat
    warmup_epochs: Annotated[StrictInt, Field(ge=0)]
    weight_decay: NonNegFloat
    betas: tuple[Fraction, Fraction]
    grad_clip: NonNegFloat  # 0 disables clipping


class TemporalAugment(Strict):
    """Train-time temporal augmentation of a clip (skelssl.augment.temporal_augment): "center" keeps
    the preprocessed clip (the fixed centre crop); "random_crop" = MAMP's valid_crop_resize (a
    fraction p ~ U(min_ratio, max_ratio) of the valid frames, at least min_frames, random start,
    resized to T); "uniform_segments" = Skeleton2vec's UniformSampleDecode (T frames drawn from the
    valid frames). min_ratio, max_ratio, min_frames are used by random_crop only."""

    kind: Literal["center", "random_crop", "uniform_segments"]
    min_ratio: Annotated[StrictFloat, Field(gt=0, le=1)]  # MAMP p_interval [0.5, 1]
    max_ratio: Annotated[StrictFloat, Field(gt=0, le=1)]
    min_frames: PositiveInt  # lower bound of the crop length in valid frames (MAMP: 64)

    @model_validator(mode="after")
    def _ordered(self) -> TemporalAugment:
        if self.max_ratio < self.min_ratio:
            raise ValueError("max_ratio must be >= min_ratio")
        return self


class RotationAugment(Strict):
    rotation: NonNegFloat  # random rotation angle bound per axis, radians (MAMP, Skeleton2vec)
    temporal: TemporalAugment


# ---------------------------------------------------------------------------- backbones


class TransformerParams(Strict):
    name: Literal["transformer"]
    dim: PositiveInt
    depth: PositiveInt
    heads: PositiveInt
    mlp_ratio: PositiveFloat
    t_patch: PositiveInt  # frames per temporal segment (token = segment x joint)
    layer_scale: NonNegFloat  # LayerScale init; 0 disables
    drop_path: Annotated[StrictFloat, Field(ge=0, lt=1)]

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
    dropout: Annotated[StrictFloat, Field(ge=0, lt=1)]  # 0.5
    edge_importance: StrictBool
    # "spatial" partition distances (skelssl.backbones.graph): "reference" = PSTL's code (max_hop 1,
    # joints beyond one hop of the centre at ∞; NTU-25 subsets 25/40/8) | "true_distance" (25/24/24)
    partition: Literal["reference", "true_distance"]


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
    start: Annotated[StrictFloat, Field(ge=0, le=1)]
    end: Annotated[StrictFloat, Field(ge=0, le=1)]
    anneal_fraction: Annotated[StrictFloat, Field(gt=0, le=1)]  # of all steps


class Skeleton2vecParams(Strict):
    optim: OptimParams
    augment: RotationAugment
    backbone: TransformerParams
    decoder: DecoderParams
    mask: TubeMaskParams
    top_k: PositiveInt  # teacher blocks averaged into the target
    target_norm: Literal["instance", "layer"]  # per-layer normalisation before averaging
    ema: EmaParams
    skip_absent_persons: StrictBool  # drop all-zero person sequences from the step (CPU saving)
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
    norm_target: StrictBool  # per-token zero-mean/unit-variance motion target
    skip_absent_persons: StrictBool


class SpatialTemporalMaskParams(Strict):
    joint_ratio: Annotated[StrictFloat, Field(ge=0, lt=1)]  # joints masked in every segment
    frame_ratio: Annotated[StrictFloat, Field(ge=0, lt=1)]  # segments masked for every joint


class SkeletonMAESTParams(Strict):
    optim: OptimParams
    augment: RotationAugment
    backbone: TransformerParams
    decoder: DecoderParams
    mask: SpatialTemporalMaskParams
    norm_target: StrictBool  # per-token normalised coordinate target (MAE's norm_pix_loss)
    skip_absent_persons: StrictBool


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
    # GIN decoder layers (the paper: 1); auto = the fewest (>= 1) that put every masked joint within
    # encoder + decoder hops of a visible one (3 encoder layers, 2 parts: COCO-17 1, NTU-25 4)
    decoder_layers: PositiveIntOrAuto


class PSTLAugment(Strict):
    shear: NonNegFloat  # off-diagonal shear entries U(-shear, shear)
    rotation_main: NonNegFloat  # degrees, one random main axis
    rotation_other: NonNegFloat  # degrees, the two other axes
    flip_prob: Annotated[StrictFloat, Field(ge=0, le=1)]  # left/right joint swap


class PSTLMaskParams(Strict):
    csm_joints: Annotated[StrictInt, Field(ge=0)]  # central spatial masking draws (8)
    matm_frames: Annotated[StrictInt, Field(ge=0)]  # highest-motion frames dropped (10)
    matm_random_frames: Annotated[StrictInt, Field(ge=0)]  # further random frames dropped (10)


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


class ProbeAugment(Strict):
    """Train-time augmentation of the evaluate stage's linear probe (skelssl.evaluation.linear):
    "none" trains on features extracted once (PSTL); "crop_rotate" extracts the training features
    every epoch from clips augmented with `temporal` + a random rotation (MAMP, Skeleton2vec)."""

    kind: Literal["none", "crop_rotate"]
    temporal: TemporalAugment  # crop_rotate only
    rotation: NonNegFloat  # crop_rotate only: radians per axis


class LinearParams(Strict):
    """The linear-probe recipe (skelssl.evaluation.linear), used by every stage that probes
    (evaluate, streams, robustness). MAE/MAMP probe: bn_linear, sgd, momentum 0.9, cosine;
    PSTL/AimCLR probe: linear, adam, lr 0.01, cosine_epoch, 150 epochs (docs/presets.md)."""

    head: Literal["bn_linear", "linear"]  # BatchNorm1d(affine=False) + Linear (MAMP) | plain Linear (PSTL)
    optimizer: Literal["sgd", "adam"]  # adam: torch's default betas (0.9, 0.999)
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    momentum: Annotated[StrictFloat, Field(ge=0, lt=1)]  # sgd only (adam ignores it)
    weight_decay: NonNegFloat
    schedule: Literal["cosine", "cosine_epoch"]  # half-cosine to 0, updated per step | per epoch
    augment: ProbeAugment  # the evaluate stage's probe; streams and robustness train on fixed features


class KnnParams(Strict):
    k: PositiveInt
    temperature: PositiveFloat


class FinetuneParams(Strict):
    """One backbone's recipe for end-to-end training of encoder + head: full fine-tuning, the
    semi-supervised protocol, transfer and the supervised-from-scratch baseline (the same recipe from
    a random init). How long it trains is the caller's: `evaluate.finetune.epochs`,
    `evaluate.semi.epochs`, `evaluate.transfer.epochs`."""

    batch_size: PositiveInt
    optimizer: Literal["adamw", "adam", "sgd"]  # adamw (MAMP) | adam (PSTL; L2 weight decay) | sgd (STRL)
    momentum: Annotated[StrictFloat, Field(ge=0, lt=1)]  # sgd only (the adams use betas (0.9, 0.999))
    lr: PositiveFloat  # peak lr, after a linear warmup from 0 (per step) over warmup_epochs
    # cosine: half-cosine to min_lr per step (MAMP) | cosine_epoch: the same, updated once per
    # epoch (PSTL's CosineAnnealingLR) | step: lr × gamma at each epoch of `milestones` (STRL)
    schedule: Literal["cosine", "cosine_epoch", "step"]
    milestones: list[PositiveInt]  # step: epochs (0-based count of finished epochs) at which lr × gamma
    gamma: Fraction  # step: factor per milestone (0.1)
    min_lr: NonNegFloat  # cosine schedules
    warmup_epochs: Annotated[StrictInt, Field(ge=0)]
    weight_decay: NonNegFloat
    layer_decay: Annotated[StrictFloat, Field(gt=0, le=1)]  # layer-wise lr decay (transformer encoders)
    drop_path: Annotated[StrictFloat, Field(ge=0, lt=1)]  # stochastic depth (transformer encoders)
    label_smoothing: Annotated[StrictFloat, Field(ge=0, lt=1)]

    @model_validator(mode="after")
    def _milestones_match_schedule(self) -> FinetuneParams:
        if self.schedule == "step":
            if not self.milestones or any(b <= a for a, b in zip(self.milestones, self.milestones[1:])):
                raise ValueError("schedule step needs strictly increasing milestones")
        elif self.milestones:
            raise ValueError(f"milestones are used only by schedule step, not {self.schedule}")
        return self


class FinetuneEpochs(Strict):
    """The `finetune` stage's epochs, per backbone (semi and transfer have their own)."""

    transformer: PositiveInt
    stgcn: PositiveInt
    gin: PositiveInt


class FinetuneRecipes(Strict):
    """`evaluate.finetune`: one end-to-end recipe per backbone (the names of
    `skelssl.backbones.BACKBONES`); a stage uses the recipe of the backbone its encoder checkpoint
    names, so `-S method=…` switches recipe with the backbone. Backbones differ in how many
    optimiser steps they need and which optimiser trains them (docs/real-data-tuning.md, "Third
    session"), so one shared recipe under-trains some of them."""

    epochs: FinetuneEpochs
    transformer: FinetuneParams
    stgcn: FinetuneParams
    gin: FinetuneParams

    @model_validator(mode="before")
    @classmethod
    def _not_one_flat_recipe(cls, data: object) -> object:
        """A params file from before per-backbone recipes (`evaluate.finetune.lr: …`) gets one line
        that says what changed, not one error per missing and unexpected key."""
        if isinstance(data, dict):
            flat = sorted(set(data) & (set(FinetuneParams.model_fields) - set(cls.model_fields)))
            if flat or not isinstance(data.get("epochs", {}), dict):
                key = flat[0] if flat else "epochs"
                new = ("evaluate.finetune.epochs.<transformer|stgcn|gin>" if key == "epochs"
                       else f"evaluate.finetune.<transformer|stgcn|gin>.{key}")
                raise PydanticCustomError("per_backbone", "one recipe per backbone now: use {new} "
                                          "(got the flat key '{key}')", {"key": key, "new": new})
        return data

    def recipe(self, backbone: str) -> FinetuneParams:
        """The recipe for encoders of `backbone` (a checkpoint's backbone name)."""
        if backbone not in FinetuneEpochs.model_fields:
            raise ParamsError(f"evaluate.finetune has no recipe for backbone {backbone!r}")
        return getattr(self, backbone)

    def epochs_for(self, backbone: str) -> int:
        self.recipe(backbone)  # the same check
        return getattr(self.epochs, backbone)


class SemiParams(Strict):
    fractions: list[Fraction]  # fractions of the training labels kept (the papers: 0.01, 0.1)
    repeats: PositiveInt  # subsets drawn per fraction; reported as mean ± std
    balanced: StrictBool  # class-balanced subsets (at least one clip per class) or plain random
    epochs: PositiveInt  # fine-tuning epochs on a subset (the recipe: evaluate.finetune.<backbone>)


class RobustnessParams(Strict):
    drop: Annotated[list[Annotated[StrictInt, Field(ge=0)]], Field(min_length=1)]  # numbers k of joints zeroed at test
    modes: Annotated[list[Literal["random", "centrality"]], Field(min_length=1)]  # uniform, or weighted by node degree
    repeats: PositiveInt  # random draws per (mode, k), averaged


class StreamsParams(Strict):
    streams: list[Literal["joint", "bone", "motion"]]  # input representations, ensembled by score
    epochs: PositiveInt  # pretraining epochs of each stream other than joint


class TransferParams(Strict):
    """The embedded transfer target: the synthesizer re-run with another seed, other subjects and a
    noisier sensor (a stand-in for NTU → PKU-MMD II); fine-tuned with `evaluate.finetune.<backbone>`."""

    seed: Annotated[StrictInt, Field(ge=0)]  # synthesizer seed of the target dataset
    subjects: Annotated[StrictInt, Field(ge=2, le=106)]
    jitter: NonNegFloat  # sensor noise of the target, metres
    epochs: PositiveInt  # fine-tuning epochs on the target


class EmbeddingParams(Strict):
    samples: PositiveInt  # test clips in the t-SNE map (class-stratified)
    perplexity: PositiveFloat


class EvaluateParams(Strict):
    batch_size: PositiveInt  # feature extraction
    linear: LinearParams
    knn: KnnParams
    finetune: FinetuneRecipes
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
    """`dotted.key: message (got <value>)`; the value is shown for scalars, cut to 60 characters."""
    key = ".".join(str(part) for part in err["loc"]) or "(root)"
    value = err.get("input")
    got = ""
    if err.get("type") != "missing" and (value is None or isinstance(value, (str, int, float, bool))):
        text = repr(value)
        got = f" (got {text[:57] + '...' if len(text) > 60 else text})"
    return f"{key}: {err['msg']}{got}"


def validation_messages(exc: ValidationError) -> list[str]:
    return [_format_error(err) for err in exc.errors()]


def parse_yaml(text: str) -> object:
    """Safe YAML 1.2, as ruamel reads it, with libyaml's C scanner and parser where they can be used.

    ruamel's safe loader uses the C parser of `ruamel.yaml.clib` (a dependency on CPython) unless
    told `pure=True`; either way ruamel's YAML 1.2 resolver and constructor turn the scalars into
    values (`1e-3` a float, `yes` / `on` strings, `010` ten), so both give the same values
    (tests/test_config.py). The C parser reads params.yaml in about 8 ms instead of 40–60 ms,
    paid by every stage's process (docs/benchmarks.md, issue 14 item 9). The Python parser reads
    what the C one cannot honour or refuses: a `%YAML` version directive (the C path would ignore
    it) and any text the C parser rejects, so an error is raised by the Python parser, whose
    messages name what it found.
    """
    if not (text.startswith("%YAML") or "\n%YAML" in text):
        try:
            return YAML(typ="safe").load(text)
        except YAMLError:
            pass
    return YAML(typ="safe", pure=True).load(text)


def read_yaml(path: Path) -> object:
    """Parse YAML 1.2 (`parse_yaml`); errors name the file and line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a folder, not a params file") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParamsError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    try:
        return parse_yaml(text)
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

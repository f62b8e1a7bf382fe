"""Each dvc.yaml stage tracks exactly the params its code reads (issue 14, item 3).

Every stage's `run` function is called on tiny data with its `Params` wrapped in a recording proxy
(`Recorder`) that notes the dotted path of every value read (`evaluate.linear.epochs`). A block that
the code consumes whole (`model_dump()` for a fingerprint, iteration, comparison, pickling to a
worker) counts as read in full. Then, against the stage's `params:` list in dvc.yaml (`${method}`
resolved):

- every path read is covered by a tracked key (a key covers its sub-keys), and params the stage's
  `cmd`/`deps` interpolate count as read: no change that alters the outputs goes unnoticed by
  `dvc status` (`NO_EFFECT` lists the reads that cannot alter them);
- every tracked key is read or consumed whole, and a tracked block is read in every part, down to
  its leaves, except the parts read only for other values of the params or other data
  (`CONDITIONAL`) and the few listed in `PARTLY_READ`: no edit to a value the stage ignores
  reruns it.

Values read only under some settings are reached by running a stage a second time with those
settings (`VARIANTS`); a stage's reads are the union over its runs.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from helpers import METHOD_NAMES, ROOT, merge, tiny_method_params
from skelssl.config import FinetuneParams, Params
from tiny_eval import FRAMES, tiny_encoder, tiny_params

# Parts of a tracked block that the tiny runs do not read because they apply only to other values
# of the params or to other data; the block is still what to track.
CONDITIONAL: dict[str, str] = {
    "ingest.layout": "read by the generic and pyskl sources only",
    "ingest.labels": "read by sources with a label file only (utkinect, generic)",
    "ingest.on_error": "read when an item fails to parse",
    "ingest.pku_mmd": "read by the pku_mmd source only",
    "ingest.npz": "read by the ctrgcn_npz source only",
    # the tiny encoder is a transformer; the recipe is chosen by the encoder's backbone
    "evaluate.finetune.stgcn": "read for ST-GCN encoders only (pstl)",
    "evaluate.finetune.gin": "read for GIN encoders only (skeletonmae_graph)",
    "evaluate.finetune.epochs.stgcn": "read for ST-GCN encoders only (pstl)",
    "evaluate.finetune.epochs.gin": "read for GIN encoders only (skeletonmae_graph)",
}
# (stage, key): tracked although that stage never reads it, and why.
PARTLY_READ: dict[tuple[str, str], str] = {
    ("streams", "methods.{method}.optim.epochs"):
        "methods.${method} differs by method, so it is tracked whole; streams pretrains for "
        "evaluate.streams.epochs instead (a change of it changes encoder.pt, a dep, anyway)",
}
# (stage, key): read by shared code, without effect on that stage's outputs: not tracked.
NO_EFFECT: dict[tuple[str, str], str] = {
    ("streams", "pretrain.checkpoint_every"):
        "train.pretrain reads it, but streams keeps no resumable state (no state_dir)",
}


# --------------------------------------------------------------------------- the recording proxy


class Recorder:
    """Wraps a pydantic model; `reads` collects the dotted paths read through it."""

    __slots__ = ("_obj", "_path", "_reads", "_masked")

    def __init__(self, obj: BaseModel, path: str, reads: set[str], masked: frozenset[str] = frozenset()):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_reads", reads)
        object.__setattr__(self, "_masked", masked)  # fields replaced by model_copy(update=…)

    @property  # type: ignore[misc]
    def __class__(self):  # isinstance(proxy, Params) holds
        return type(self._obj)

    def _whole(self) -> BaseModel:
        self._reads.add(self._path or "<all params>")
        return self._obj

    def __getattr__(self, name: str) -> Any:
        obj, path = self._obj, self._path
        full = f"{path}.{name}" if path else name
        cls = type(obj)
        if name in cls.model_fields:
            value = getattr(obj, name)
            if isinstance(value, Recorder) or name in self._masked:
                return value  # a value put there by model_copy(update=…), recorded where it came from
            if isinstance(value, BaseModel):
                return Recorder(value, full, self._reads)
            self._reads.add(full)
            return value
        static = inspect.getattr_static(cls, name, None)
        if isinstance(static, property):
            return static.fget(self)  # e.g. Params.method_params: reads `method`, then that block
        if name == "model_copy":
            def model_copy(*, update: dict | None = None, deep: bool = False) -> Recorder:
                return Recorder(obj.model_copy(update=update, deep=deep), path, self._reads,
                                self._masked | frozenset(update or ()))
            return model_copy
        if isinstance(static, types.FunctionType) and not hasattr(BaseModel, name):
            return types.MethodType(static, self)  # a method of the params class: reads recorded
        return getattr(self._whole(), name)  # model_dump, model_dump_json, …: the whole block

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("params are read-only")

    def __eq__(self, other: object) -> bool:
        other = other._whole() if isinstance(other, Recorder) else other
        return self._whole() == other

    def __hash__(self) -> int:
        return hash(self._whole())

    def __iter__(self):
        return iter(self._whole())

    def __reduce_ex__(self, protocol: int):  # pickled for a worker process: passed on whole
        return self._whole().__reduce_ex__(protocol)

    def __copy__(self) -> BaseModel:
        return self._whole()

    def __deepcopy__(self, memo: dict) -> BaseModel:
        return self._whole()

    def __repr__(self) -> str:
        return repr(self._obj)

    def __str__(self) -> str:
        return str(self._obj)


def record(params: Params, call: Callable[[Params], None]) -> set[str]:
    reads: set[str] = set()
    call(Recorder(params, "", reads))  # type: ignore[arg-type]
    return reads


# --------------------------------------------------------------------------- dvc.yaml side


def _stages() -> dict:
    return YAML(typ="safe", pure=True).load((ROOT / "dvc.yaml").read_text())["stages"]


def interpolated(stage: str) -> set[str]:
    """Params the stage's `cmd` and `deps` interpolate (`${ingest.input}`): read by the stage
    through its command line (DVC tracks them too)."""
    definition = _stages()[stage]
    text = " ".join([definition["cmd"], *map(str, definition.get("deps", []))])
    return set(re.findall(r"\$\{\s*([\w.]+)\s*\}", text))


def tracked_keys(stage: str, params: Params) -> list[str]:
    stages = _stages()
    keys: list[str] = []
    for entry in stages[stage].get("params", []):
        if isinstance(entry, dict):  # {params_file: [keys]}
            (file, listed), = entry.items()
            assert file == "params.yaml", f"{stage}: params from {file}"
            keys += listed
        else:
            keys.append(entry)
    return [key.replace("${method}", params.method) for key in keys]


def _under(path: str, key: str) -> bool:
    return path == key or path.startswith(key + ".")


def _value(params: Params, key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _unread(key: str, value: Any, reads: set[str], exempt: set[str]) -> list[str]:
    """The parts of tracked `key` (value `value`) that nothing in `reads` reads, topmost first."""
    if key in exempt or any(_under(key, r) for r in reads):
        return []  # exempt, or read as one value / consumed whole
    if not isinstance(value, BaseModel) or not any(_under(r, key) for r in reads):
        return [key]
    return [part for child in type(value).model_fields
            for part in _unread(f"{key}.{child}", getattr(value, child), reads, exempt)]


def check_keys(stage: str, tracked: list[str], reads: set[str], params: Params,
               exempt: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    assert "<all params>" not in reads, f"{stage} consumes the whole Params object"
    uncovered = sorted(r for r in reads if not any(_under(r, k) for k in tracked))
    assert not uncovered, f"{stage} reads params that dvc.yaml does not track: {uncovered}"
    unused = [part for key in tracked for part in _unread(key, _value(params, key), reads, exempt)]
    assert not unused, f"{stage} tracks params it never reads: {unused}"


def check(stage: str, params: Params, reads: set[str]) -> None:
    """`stage`'s dvc.yaml params against `reads` (see the module docstring)."""
    method = params.method
    no_effect = {key.format(method=method) for (s, key) in NO_EFFECT if s == stage}
    exempt = set(CONDITIONAL) | {key.format(method=method) for (s, key) in PARTLY_READ if s == stage}
    check_keys(stage, tracked_keys(stage, params), (reads | interpolated(stage)) - no_effect, params, exempt)


# --------------------------------------------------------------------------- tiny stage runs

# Tiny sizes for every stage: a 4-class, 3-subject synthetic dataset (subjects 1, 2 train and 3
# test in NTU's cross-subject split) of 20–30 frames cut to FRAMES, one-epoch protocols.
TINY: dict[str, Any] = {
    "synthesize": {"classes": 4, "subjects": 3, "frames": {"min": 20, "max": 30}},
    "ingest": {"workers": 1},
    "preprocess": {"frames": FRAMES},
    "pretrain": {"checkpoint_every": 1},
    "methods": {"skeleton2vec": {"optim": {"epochs": 1, "warmup_epochs": 0}}},
    "evaluate": {"linear": {"epochs": 1},
                 "knn": {"k": 3},
                 "finetune": {"epochs": {"transformer": 1}, "transformer": {"batch_size": 8, "warmup_epochs": 0}},
                 "semi": {"fractions": [0.5], "repeats": 1, "epochs": 1},
                 "robustness": {"drop": [0, 2]},
                 "streams": {"epochs": 1, "streams": ["joint", "bone"]},
                 "transfer": {"subjects": 3, "epochs": 1},
                 "embedding": {"samples": 9, "perplexity": 3.0}},
}
# Each stage also runs with these params so that values read only under other settings are read
# (a stage's reads: the union over its runs).
PROBE_AUGMENT = {"evaluate": {"linear": {"augment": {"kind": "crop_rotate", "temporal": {"min_frames": 8}}}}}
STEP_SGD = {"evaluate": {"finetune": {"transformer": {"optimizer": "sgd", "schedule": "step",
                                                      "milestones": [1], "gamma": 0.5}}}}
RANDOM_CROP = {"methods": {"skeleton2vec": {"augment": {"temporal": {"kind": "random_crop",
                                                                 "min_frames": 8}}}}}
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "evaluate": [PROBE_AUGMENT], "finetune": [STEP_SGD], "semi": [STEP_SGD], "transfer": [STEP_SGD],
    "streams": [RANDOM_CROP],
}


def tiny(*updates: dict[str, Any]) -> Params:
    data = merge(tiny_params().model_dump(mode="json"), TINY)
    for update in updates:
        data = merge(data, update)
    return Params.model_validate(data)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Synthesized, ingested and preprocessed tiny data (raw/, ingested/, processed/) and a random
    encoder (encoder.pt) of tiny_params' backbone."""
    from skelssl.pipeline import ingest, preprocess, synthesize

    root = tmp_path_factory.mktemp("data")
    params = tiny()
    synthesize.run(params, root / "raw")
    ingest.run(params, root / "raw", root / "ingested")
    preprocess.run(params, root / "ingested", root / "processed")
    tiny_encoder(root / "encoder.pt", params)
    return root


def _runner(stage: str, root: Path) -> Callable[[Params, Path], None]:
    from skelssl.pipeline import (embedding, evaluate, finetune, ingest, preprocess, pretrain,
                                  robustness, streams, synthesize, transfer)

    processed, encoder = root / "processed", root / "encoder.pt"
    return {
        "synthesize": lambda p, out: synthesize.run(p, out),
        "ingest": lambda p, out: ingest.run(p, root / "raw", out),
        "preprocess": lambda p, out: preprocess.run(p, root / "ingested", out),
        "pretrain": lambda p, out: pretrain.run(p, processed, out / "enc", out / "hist", out / "state"),
        "evaluate": lambda p, out: evaluate.run(p, processed, encoder, out),
        "finetune": lambda p, out: finetune.run_finetune(p, processed, encoder, out),
        "semi": lambda p, out: finetune.run_semi(p, processed, encoder, out),
        "robustness": lambda p, out: robustness.run(p, processed, encoder, out),
        "streams": lambda p, out: streams.run(p, processed, encoder, out),
        "embedding": lambda p, out: embedding.run(p, processed, encoder, out),
        "transfer": lambda p, out: transfer.run(p, encoder, out),
    }[stage]


def test_recorder_records_paths_and_whole_blocks():
    params = tiny_params()
    reads = record(params, lambda p: (p.evaluate.linear.epochs, p.method_params.optim.model_dump(),
                                      isinstance(p.evaluate, type(params.evaluate)),
                                      p.evaluate.finetune.recipe("transformer").model_copy(update={"lr": 1.0}).lr,
                                      p.evaluate.finetune.epochs_for("transformer")))
    assert reads == {"evaluate.linear.epochs", "method", "methods.skeleton2vec.optim",
                     "evaluate.finetune.epochs.transformer"}
    tracked = ["base", "evaluate.finetune.transformer", "evaluate.semi"]
    finetune = {f"evaluate.finetune.transformer.{key}" for key in FinetuneParams.model_fields}
    check_keys("x", tracked, {"base.seed", "base.split", "evaluate.semi"} | finetune, params)
    with pytest.raises(AssertionError, match=r"does not track: \['evaluate.knn.k'\]"):
        check_keys("x", tracked, {"base", "evaluate.semi", "evaluate.knn.k"} | finetune, params)
    with pytest.raises(AssertionError, match=r"never reads: \['base.split', 'evaluate.finetune.transformer.lr'\]"):
        check_keys("x", tracked, {"base.seed", "evaluate.semi"} | finetune - {"evaluate.finetune.transformer.lr"},
                   params)
    with pytest.raises(AssertionError, match=r"never reads: \['evaluate.semi'\]"):
        check_keys("x", tracked, {"base", "evaluate.finetune.transformer"}, params)


STAGES = ["synthesize", "ingest", "preprocess", "pretrain", "evaluate", "finetune", "semi",
          "robustness", "streams", "embedding", "transfer"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_tracks_the_params_it_reads(stage, data, tmp_path):
    run = _runner(stage, data)
    reads: set[str] = set()
    for i, variant in enumerate([{}, *VARIANTS.get(stage, [])]):
        params = tiny(variant)
        reads |= record(params, lambda p: run(p, tmp_path / f"out{i}"))
    check(stage, tiny(), reads)


@pytest.mark.parametrize("method", [m for m in METHOD_NAMES if m != "skeleton2vec"])
def test_pretrain_of_every_method_tracks_the_params_it_reads(method, data, tmp_path):
    block = tiny_method_params(method).model_dump(mode="json")
    block["optim"].update(epochs=1, batch_size=8, warmup_epochs=0)
    params = tiny({"method": method, "methods": {method: block}})
    reads = record(params, lambda p: _runner("pretrain", data)(p, tmp_path))
    check("pretrain", params, reads)


def test_report(tmp_path, monkeypatch):
    """The report reads the rows' params (`ROW_PARAMS`) and the seed its provenance names
    (`SEED_PARAMS`) from a dump of the whole Params, the way it reads them from `dvc exp show`: the
    dump counts as reading those keys only (one workspace row: no other param can set it apart)."""
    from skelssl.report import build, collect
    from skelssl.report.spec import ROW_PARAMS, SEED_PARAMS

    for metrics in (ROOT / "results").glob("*/metrics.json"):
        dest = tmp_path / "results" / metrics.parent.name / "metrics.json"
        dest.parent.mkdir(parents=True)
        shutil.copy2(metrics, dest)
    if not list((tmp_path / "results").glob("*/metrics.json")):
        (tmp_path / "results" / "eval").mkdir(parents=True)
        (tmp_path / "results" / "eval" / "metrics.json").write_text(json.dumps({"linear": {"top1": 50.0}}))
    monkeypatch.chdir(tmp_path)
    dumps = []
    real_row_fields = collect._row_fields

    def row_fields(params: dict[str, Any]) -> dict[str, str]:
        dumps.append(params)
        return real_row_fields(params)

    monkeypatch.setattr(collect, "_row_fields", row_fields)
    params = tiny_params()
    reads = record(params, lambda p: build.run(p, tmp_path / "report"))
    assert dumps == [params.model_dump()]  # the one dump went to _row_fields
    check("report", params, (reads - {"<all params>"}) | set(ROW_PARAMS.values()) | set(SEED_PARAMS))

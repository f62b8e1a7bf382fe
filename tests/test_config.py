import subprocess
import sys
import typing

import pytest
from ruamel.yaml import YAML

from helpers import ROOT
from skelssl.config import MethodName, Params, load_params, parse_yaml
from skelssl.errors import ParamsError
from skelssl.methods import METHODS


def _yaml():
    return YAML(typ="safe", pure=True).load((ROOT / "params.yaml").read_text())


def _write(tmp_path, data):
    path = tmp_path / "params.yaml"
    YAML(typ="safe", pure=True).dump(data, path)
    return path


def test_params_yaml_is_valid_and_complete():
    params = load_params(ROOT / "params.yaml")
    # no hidden defaults: the validated model dumped back equals the YAML, key for key
    assert params.model_dump(mode="json") == _json_like(_yaml())


def _json_like(value):
    if isinstance(value, dict):
        return {k: _json_like(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_like(v) for v in value]
    return value


def test_registry_literal_and_params_agree():
    assert set(METHODS) == set(typing.get_args(MethodName)) == set(_yaml()["methods"])


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d["methods"]["skeleton2vec"]["mask"].update(ratio=1.5), "methods.skeleton2vec.mask.ratio"),
    (lambda d: d["pretrain"].update(bogus=1), "pretrain.bogus"),
    (lambda d: d.update(method="nope"), "method"),
    (lambda d: d["synthesize"]["frames"].update(min=50, max=40), "synthesize.frames"),
    (lambda d: d["methods"]["skeleton2vec"].update(top_k=99), "methods.skeleton2vec"),
    (lambda d: d["ingest"].pop("on_error"), "ingest.on_error"),
    (lambda d: d["evaluate"]["robustness"].update(drop=[]), "evaluate.robustness.drop"),
    (lambda d: d["evaluate"]["robustness"].update(modes=[]), "evaluate.robustness.modes"),
])
def test_invalid_params_name_the_dotted_key(tmp_path, edit, key):
    data = _yaml()
    edit(data)
    with pytest.raises(ParamsError) as info:
        load_params(_write(tmp_path, data))
    message = str(info.value)
    assert "\n" not in message
    assert f": {key}" in message


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("base:\n  seed: 0\n  split: [xsub\nmethod: x\n")  # the parser sees it on line 4
    with pytest.raises(ParamsError, match=r"params\.yaml:4: invalid YAML: expected ',' or ']'"):
        load_params(path)
    path.write_text("base:\n  seed: : 0\n")
    with pytest.raises(ParamsError, match=r"params\.yaml:2: invalid YAML: mapping values are not allowed"):
        load_params(path)


# Scalars whose YAML 1.1 and 1.2 readings differ, and other corners of the core schema.
TRICKY_SCALARS = ["on", "off", "yes", "no", "y", "n", "True", "FALSE", "1e-3", "1.0e-3", "-.5", "1.",
                  "010", "0o17", "0x1F", "0b101", "1_000", "1:30", "+12", ".inf", "-.Inf", ".nan",
                  "~", "null", "Null", "", "2026-12-05", "2026-12-05T01:02:03Z", "'1'", '"on"',
                  "[1, on, 1e3]", "{a: 1e-4, b: no}"]


def test_c_parser_reads_what_the_python_parser_reads():
    """parse_yaml's fast path (libyaml's parser, ruamel's 1.2 resolver) against ruamel's Python
    parser: the same values for the project's YAML files and every tricky scalar."""
    fast, pure = YAML(typ="safe"), YAML(typ="safe", pure=True)
    assert fast.Parser is not pure.Parser, "ruamel.yaml.clib (a dependency on CPython) is not in use"
    texts = [(ROOT / name).read_text() for name in ("params.yaml", "dvc.yaml", "dvc.lock")]
    texts += [f"key: {scalar}\n" for scalar in TRICKY_SCALARS]
    texts.append("".join(f"k{i}:\n  - {scalar}\n" for i, scalar in enumerate(TRICKY_SCALARS)))
    for text in texts:
        assert fast.load(text) == pure.load(text), text[:80]
        assert parse_yaml(text) == pure.load(text)
    assert parse_yaml("key: on\n") == {"key": "on"}
    assert parse_yaml("key: 1e-3\n") == {"key": 0.001}


def test_parse_yaml_honours_a_version_directive():
    # the C path would read this as 1.2 (a string); the Python parser honours the directive
    assert parse_yaml("%YAML 1.1\n---\nkey: on\n") == {"key": True}
    assert parse_yaml("%YAML 1.2\n---\nkey: on\n") == {"key": "on"}


def test_missing_params_file(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "skelssl", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_cli_params_check(tmp_path):
    ok = _cli("params", "check", str(ROOT / "params.yaml"))
    assert ok.returncode == 0, ok.stderr
    data = _yaml()
    data["pretrain"]["lr"] = -1.0
    data["base"]["split"] = "X-Sub"
    bad = _cli("params", "check", str(_write(tmp_path, data)))
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any("pretrain.lr" in line for line in lines) and any("base.split" in line for line in lines)
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(("key", "value", "expected", "kept"), [
    ("preprocess.align_view", "sideways", "true, false or 'auto'", (True, False, "auto")),
    ("preprocess.align_view", 1, "true, false or 'auto'", (True, False, "auto")),
    ("methods.skeletonmae_graph.decoder_layers", 0, "a positive integer or 'auto'", (1, 4, "auto")),
    ("methods.skeletonmae_graph.decoder_layers", True, "a positive integer or 'auto'", (1, 4, "auto")),
])
def test_or_auto_fields_fail_on_one_line(tmp_path, key, value, expected, kept):
    """A `<type> | 'auto'` field: one message for a wrong value (pydantic gives one per member),
    and every legal value still validates."""
    data = _yaml()
    _set(data, key, value)
    bad = _cli("params", "check", str(_write(tmp_path, data)))
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'params.yaml'}: {key}: Input should be {expected} (got {value!r})"]
    for good in kept:
        _set(data, key, good)
        params = load_params(_write(tmp_path, data))
        node = params
        for part in key.split("."):
            node = getattr(node, part)
        assert node == good and type(node) is type(good)


def test_params_are_frozen():
    params = load_params(ROOT / "params.yaml")
    with pytest.raises(Exception):
        params.base.seed = 3  # type: ignore[misc]
    assert isinstance(params, Params)


# ---------------------------------------------------------------------------- strict types (issue 11)


def _set(data, dotted, value):
    node = data
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value


@pytest.mark.parametrize(("key", "text", "words"), [
    ("ingest.workers", "true", "valid integer"),
    ("ingest.workers", "1.5", "valid integer"),
    ("ingest.workers", '"2"', "valid integer"),
    ("ingest.pku_mmd.phase", "true", "not a boolean"),
    ("methods.mamp.optim.lr", ".inf", "finite number"),
    ("methods.mamp.optim.lr", ".nan", "finite number"),
    ("methods.mamp.optim.lr", '"1e-3"', "valid number"),
    ("methods.mamp.optim.lr", "true", "valid number"),
    ("methods.mamp.optim.betas", "[0.9, .nan]", "finite number"),
    ("evaluate.semi.fractions", "[.inf]", "finite number"),
    ("preprocess.center", "yes", "valid boolean"),
    ("preprocess.center", "1", "valid boolean"),
])
def test_strict_types_refuse_coercions(tmp_path, key, text, words):
    data = _yaml()
    _set(data, key, YAML(typ="safe", pure=True).load(f"v: {text}")["v"])
    with pytest.raises(ParamsError) as err:
        load_params(_write(tmp_path, data))
    assert f": {key}" in str(err.value) and words in str(err.value)


def test_yaml_ints_and_booleans_still_validate(tmp_path):
    data = _yaml()
    _set(data, "methods.mamp.optim.lr", 1)  # an int for a float field
    _set(data, "methods.mamp.optim.grad_clip", 0)
    _set(data, "ingest.workers", 3)
    _set(data, "preprocess.center", False)
    params = load_params(_write(tmp_path, data))
    assert params.methods.mamp.optim.lr == 1.0 and isinstance(params.methods.mamp.optim.lr, float)
    assert params.ingest.workers == 3 and params.preprocess.center is False


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    else:
        yield path, value


def test_every_int_float_and_bool_field_is_strict(tmp_path):
    """Every int leaf of params.yaml refuses `true`, every float leaf `.inf`, every bool leaf "yes"."""
    base = _yaml()
    checked = 0
    for path, value in _leaves(base):
        if isinstance(value, bool):
            bad = "yes"
        elif isinstance(value, int):
            bad = True
        elif isinstance(value, float):
            bad = float("inf")
        else:
            continue
        data = _yaml()
        _set(data, ".".join(path), bad)
        with pytest.raises(Exception) as err:  # noqa: PT011 (pydantic ValidationError)
            Params.model_validate(data)
        assert ".".join(path) in str(err.value).replace("\n", "."), path
        checked += 1
    assert checked > 50

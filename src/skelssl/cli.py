"""The `skelssl` command: one command per DVC stage, plus `params check`.

Stage commands call the same `skelssl.pipeline.<stage>.run` functions as `stages/*.py`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from pydantic import ValidationError

from skelssl.config import Params, read_yaml, validation_messages
from skelssl.errors import SkelsslError
from skelssl.runner import configure_process_gc, console, error_line, fail, guarded, run_stage


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"skelssl {version('skelssl')}")
        raise typer.Exit()


# rich_markup_mode=None: click's plain help (no rich markup read in help texts, no `<bool>` type
# column for flags); completion: `skelssl --install-completion` (bash, zsh, fish, PowerShell)
app = typer.Typer(help="Self-supervised skeleton action recognition pipeline.", no_args_is_help=True,
                  add_completion=True, pretty_exceptions_enable=False, rich_markup_mode=None)
params_app = typer.Typer(help="Inspect params.yaml.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(params_app, name="params")


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Self-supervised skeleton action recognition pipeline (one command per DVC stage)."""


ParamsOption = Annotated[Path, typer.Option("--params", help="params file to read", readable=False)]


def _path(what: str, dvc: str) -> typer.models.ArgumentInfo:
    """A positional path, its help naming the path dvc.yaml passes (the example to copy)."""
    return typer.Argument(help=f"{what} (dvc.yaml: {dvc})", show_default=False, readable=False)


ProcessedDir = Annotated[Path, _path("preprocessed dataset folder", "artifacts/processed")]
EncoderFile = Annotated[Path, _path("pretrained encoder checkpoint", "artifacts/pretrain/encoder.pt")]


@app.command(epilog="Example: skelssl synthesize data/synthetic")
def synthesize(
    out_dir: Annotated[Path, _path("folder to write the .skeleton files to", "data/synthetic")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Write the embedded dataset (NTU .skeleton files) to OUT_DIR."""
    from skelssl.pipeline import synthesize as stage

    run_stage(stage.run, [str(out_dir)], params)


@app.command(epilog="Example: skelssl ingest data/synthetic artifacts/ingested")
def ingest(
    input_dir: Annotated[Path, _path("raw dataset in the format of ingest.source",
                                     "${ingest.input}, default data/synthetic")],
    out_dir: Annotated[Path, _path("output folder", "artifacts/ingested")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Parse (and for NTU, denoise) a raw dataset into a sample index + joints array."""
    from skelssl.pipeline import ingest as stage

    run_stage(stage.run, [str(input_dir), str(out_dir)], params)


@app.command(epilog="Example: skelssl preprocess artifacts/ingested artifacts/processed")
def preprocess(
    ingested_dir: Annotated[Path, _path("ingest output folder", "artifacts/ingested")],
    out_dir: Annotated[Path, _path("output folder", "artifacts/processed")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Centre, align, crop/resize to T frames and compute motion (numba)."""
    from skelssl.pipeline import preprocess as stage

    run_stage(stage.run, [str(ingested_dir), str(out_dir)], params)


def _ingest_then_preprocess(params: Params, input_dir: Path, ingested_dir: Path, processed_dir: Path) -> None:
    """The `ingest` stage, then the `preprocess` stage, in this process.

    Both output folders are checked before any work, INGESTED_DIR first (ingest.run repeats that
    check; doing it here first makes `prepare raw . out` name `.`, not `out` inside it), so a
    refused PROCESSED_DIR leaves the ingested folder as it was; like every command it is all or
    nothing (`skelssl.outputs.all_or_nothing`): a failure in preprocess puts the earlier ingested
    folder back (or removes the new one) and leaves the earlier processed folder.
    """
    from skelssl.outputs import check_dir_output
    from skelssl.pipeline import ingest as ingest_stage
    from skelssl.pipeline import preprocess as preprocess_stage

    check_dir_output(ingested_dir, "ingest", inputs=(input_dir,))
    check_dir_output(processed_dir, "preprocess", inputs=(input_dir, ingested_dir))
    ingest_stage.run(params, input_dir, ingested_dir)
    preprocess_stage.run(params, ingested_dir, processed_dir)


@app.command(epilog="Example: skelssl prepare data/synthetic artifacts/ingested artifacts/processed")
def prepare(
    input_dir: Annotated[Path, _path("raw dataset in the format of ingest.source",
                                     "${ingest.input}, default data/synthetic")],
    ingested_dir: Annotated[Path, _path("ingest output folder", "artifacts/ingested")],
    processed_dir: Annotated[Path, _path("preprocess output folder", "artifacts/processed")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """`skelssl ingest` then `skelssl preprocess` in one process (one start-up instead of two).

    The same two output folders, byte for byte, as the two commands (and dvc.yaml's two stages,
    which stay separate so that a preprocess setting does not re-ingest).
    """
    run_stage(_ingest_then_preprocess, [str(input_dir), str(ingested_dir), str(processed_dir)], params)


@app.command(epilog="Example: skelssl pretrain artifacts/processed artifacts/pretrain results/pretrain "
                    "artifacts/pretrain-state")
def pretrain(
    processed_dir: ProcessedDir,
    out_dir: Annotated[Path, _path("folder for encoder.pt", "artifacts/pretrain")],
    history_dir: Annotated[Path, _path("folder for the live log (live/: dvclive metrics and plots)", "results/pretrain")],
    state_dir: Annotated[Path, _path("folder for the resumable checkpoint", "artifacts/pretrain-state")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Pretrain the selected method; write the encoder and the step history (resumes after a crash)."""
    from skelssl.pipeline import pretrain as stage

    run_stage(stage.run, [str(processed_dir), str(out_dir), str(history_dir), str(state_dir)], params)


# Evaluation protocols: command → (module of skelssl.pipeline, function, help). Each takes the
# processed dataset, a pretrained encoder and an output folder, like its DVC stage.
PROTOCOLS: dict[str, tuple[str, str, str]] = {
    "evaluate": ("evaluate", "run", "Linear probe and kNN for the pretrained and a random-init encoder."),
    "finetune": ("finetune", "run_finetune", "Full fine-tuning, and the same recipe from scratch."),
    "semi": ("finetune", "run_semi", "Semi-supervised fine-tuning on 1%/10% label subsets."),
    "robustness": ("robustness", "run", "Linear-probe accuracy with k joints removed at test time."),
    "streams": ("streams", "run", "Joint, bone and motion streams and their score ensemble."),
    "embedding": ("embedding", "run", "t-SNE map of the test features (CSV + PNG)."),
}
RESULTS_DIR = {"evaluate": "results/eval"}  # dvc.yaml's output folder where it is not results/<command>
# protocols that also save a trained model (an optional 4th path): dvc.yaml's folder, the file written
MODEL_DIR = {"evaluate": ("artifacts/eval", "probe.pt"), "finetune": ("artifacts/finetune", "classifier.pt")}


def _protocol_command(name: str, module: str, function: str) -> Callable[..., None]:
    folder = RESULTS_DIR.get(name, f"results/{name}")

    def command(processed_dir: ProcessedDir, encoder: EncoderFile, out_dir: Path,
                params: ParamsOption = Path("params.yaml")) -> None:
        stage = importlib.import_module(f"skelssl.pipeline.{module}")
        run_stage(getattr(stage, function), [str(processed_dir), str(encoder), str(out_dir)], params)

    def saving_command(processed_dir: ProcessedDir, encoder: EncoderFile, out_dir: Path,
                       model_dir: Path | None = None, params: ParamsOption = Path("params.yaml")) -> None:
        stage = importlib.import_module(f"skelssl.pipeline.{module}")
        paths = [str(processed_dir), str(encoder), str(out_dir)] + ([str(model_dir)] if model_dir else [])
        run_stage(getattr(stage, function), paths, params)

    if name in MODEL_DIR:
        command = saving_command
        model_folder, model_file = MODEL_DIR[name]
        command.__annotations__["model_dir"] = Annotated[Path | None, typer.Argument(
            help=f"folder for {model_file}, the trained model for predict/export; omitted: not saved "
                 f"(dvc.yaml: {model_folder})", show_default=False, readable=False)]
    # set as an object: a string annotation could not see `folder` (from __future__ annotations)
    command.__annotations__["out_dir"] = Annotated[Path, _path("output folder", folder)]
    return command


for _name, (_module, _function, _doc) in PROTOCOLS.items():
    _example = f"Example: skelssl {_name} artifacts/processed artifacts/pretrain/encoder.pt " + RESULTS_DIR.get(
        _name, f"results/{_name}") + (f" {MODEL_DIR[_name][0]}" if _name in MODEL_DIR else "")
    app.command(_name, help=_doc, epilog=_example)(_protocol_command(_name, _module, _function))


@app.command(epilog="Example: skelssl transfer artifacts/pretrain/encoder.pt results/transfer")
def transfer(
    encoder: EncoderFile,
    out_dir: Annotated[Path, _path("output folder", "results/transfer")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Fine-tune ENCODER on another dataset (the embedded transfer target) and from scratch."""
    from skelssl.pipeline import transfer as stage

    run_stage(stage.run, [str(encoder), str(out_dir)], params)


@app.command()
def report(
    origin: Annotated[str, typer.Option("--from", help="workspace | exps (dvc exp show) | both")] = "both",
    out: Annotated[Path, typer.Option("--out", help="folder for report.md and report.png",
                                      readable=False)] = Path("docs/report"),
    latest_per_method: Annotated[bool, typer.Option("--latest-per-method",
                                                    help="keep the newest group of seeds per method and dataset")] = False,
    all_commits: Annotated[bool, typer.Option("--all-commits",
                                              help="experiments of every commit (dvc exp show -A)")] = False,
    revs: Annotated[list[str] | None, typer.Option("--rev", metavar="COMMIT", help="experiments of this baseline commit "
                                                      "(repeat for several; default HEAD)")] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Methods × protocols comparison (Markdown + PNG), with the papers' numbers for reference."""
    from skelssl.console import setup_logging
    from skelssl.report.collect import collect

    setup_logging()

    def action() -> None:
        from skelssl.outputs import claim_output_dir

        if origin == "workspace" and (all_commits or revs):
            option = "--all-commits" if all_commits else "--rev"
            raise SkelsslError(f"{option}: selects experiments, which --from workspace does not read "
                               "(use --from exps or --from both)")
        claim_output_dir(out, "report", ("report.md", "report.png"))
        rows = collect(origin, Path("."), params_file=params, latest=latest_per_method, all_commits=all_commits,
                       revs=revs or ())
        from skelssl.report.build import write_report  # imports matplotlib: only once rows exist

        write_report(rows, out, origin)

    guarded(action)


@app.command("export-pyskl", epilog="Example: skelssl export-pyskl artifacts/ingested ntu60.pkl")
def export_pyskl(
    ingested_dir: Annotated[Path, _path("ingest output folder", "artifacts/ingested")],
    out: Annotated[Path, typer.Argument(help="pickle file to write, e.g. ntu60_xsub.pkl", show_default=False,
                                        readable=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUT if it exists")] = False,
) -> None:
    """Write an ingest artifact (index.parquet + joints.npy + meta.json) as a pyskl annotation pickle."""
    from skelssl.console import setup_logging
    from skelssl.data.interchange import export_pyskl as export
    from skelssl.outputs import OutputError, check_output_path

    setup_logging()

    def action() -> None:
        check_output_path(out, [ingested_dir])
        if os.path.lexists(out) and (out.is_dir() or out.is_symlink()):
            raise OutputError(f"{out}: exists and is not a regular file; refusing to replace it")
        if os.path.lexists(out) and not overwrite:
            raise OutputError(f"{out}: exists; refusing to overwrite it (pass --overwrite to replace it)")
        count = export(ingested_dir, out)
        console.print(Text(f"{out}: {count} clips"), highlight=False)

    guarded(action)


ModelFile = Annotated[Path, _path("fine-tuned or probed model file",
                                  "artifacts/finetune/classifier.pt or artifacts/eval/probe.pt")]


@app.command(epilog="Example: skelssl predict artifacts/finetune/classifier.pt data/synthetic --top-k 3")
def predict(
    model: ModelFile,
    input_path: Annotated[Path, typer.Argument(
        metavar="INPUT", show_default=False, readable=False,
        help="sequences to classify: a folder in the format of --source (NTU .skeleton files, ...), "
             "or for the generic source a folder of <name>.npy arrays (labels.csv optional) or one "
             ".npy file")],
    source: Annotated[str | None, typer.Option("--source", help="ingest source that reads INPUT "
                                               "(default: the one the model was trained on)")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="classes to list per sequence")] = 5,
    fmt: Annotated[str, typer.Option("--format", help="json | csv")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="file to write (default: standard output)",
                                             readable=False)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace --out if it exists")] = False,
) -> None:
    """Classify skeleton sequences with a trained model: top-k classes with their scores.

    The reading and preprocessing options of the model's training run come from the model file."""
    from skelssl.console import setup_logging

    setup_logging()

    def action() -> None:
        from skelssl.predict import FORMATS, predict as run_predict, render

        if fmt not in FORMATS:
            raise SkelsslError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        if out is not None:
            _check_new_file(out, overwrite, [model, input_path])
        text = render(run_predict(model, input_path, source, top_k), fmt)
        if out is None:
            typer.echo(text, nl=False)
            return
        from skelssl.io import atomic_file

        with atomic_file(out) as tmp:
            tmp.write_text(text)

    guarded(action)


@app.command(epilog="Example: skelssl export artifacts/finetune/classifier.pt classifier.ts")
def export(
    model: ModelFile,
    out: Annotated[Path, typer.Argument(help="TorchScript file to write, e.g. classifier.ts "
                                             "(load: torch.jit.load)", show_default=False, readable=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUT if it exists")] = False,
) -> None:
    """Write a trained model as self-contained TorchScript (class names, layout and preprocessing
    params in its extra file skelssl.json); loads with plain torch, without skelssl."""
    from skelssl.console import setup_logging

    setup_logging()

    def action() -> None:
        from skelssl.export import export as run_export

        _check_new_file(out, overwrite, [model])
        meta = run_export(model, out)
        console.print(Text(f"{out}: TorchScript, {len(meta['classes'])} classes, layout {meta['layout']}, "
                           f"input (N, {meta['persons']}, {meta['frames']}, ...)"), highlight=False)

    guarded(action)


def _check_new_file(out: Path, overwrite: bool, inputs: list[Path]) -> None:
    """Refuse an output file that is an input, a folder or symlink, or exists without --overwrite."""
    from skelssl.outputs import OutputError, check_output_path

    check_output_path(out, inputs)
    if os.path.lexists(out) and (out.is_dir() or out.is_symlink()):
        raise OutputError(f"{out}: exists and is not a regular file; refusing to replace it")
    if os.path.lexists(out) and not overwrite:
        raise OutputError(f"{out}: exists; refusing to overwrite it (pass --overwrite to replace it)")


@params_app.command("check")
def params_check(
    file: Annotated[Path, typer.Argument(help="params file to validate (dvc.yaml: params.yaml)",
                                         readable=False)] = Path("params.yaml"),
) -> None:
    """Validate a params file: one line per problem, naming the dotted key; exit 1 if any."""
    try:
        raw = read_yaml(file)
        Params.model_validate(raw)
    except SkelsslError as exc:
        fail(str(exc))
    except ValidationError as exc:
        for message in validation_messages(exc):
            console.print(error_line(f"{file}: {message}"), highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    console.print(Text(f"{file}: ok"), highlight=False)


def main() -> None:
    configure_process_gc()
    app()

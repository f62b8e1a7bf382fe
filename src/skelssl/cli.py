"""The `skelssl` command: one command per DVC stage, plus `params check`.

Stage commands call the same `skelssl.pipeline.<stage>.run` functions as `stages/*.py`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from skelssl.config import Params, read_yaml, validation_messages
from skelssl.errors import SkelsslError
from skelssl.runner import console, fail, run_stage

app = typer.Typer(help="Self-supervised skeleton action recognition pipeline.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
params_app = typer.Typer(help="Inspect params.yaml.", no_args_is_help=True)
app.add_typer(params_app, name="params")

ParamsOption = Annotated[Path, typer.Option("--params", help="params file to read")]


@app.command()
def synthesize(out_dir: Path, params: ParamsOption = Path("params.yaml")) -> None:
    """Write the embedded dataset (NTU .skeleton files) to OUT_DIR."""
    from skelssl.pipeline import synthesize as stage

    run_stage(stage.run, [str(out_dir)], params)


@app.command()
def ingest(input_dir: Path, out_dir: Path, params: ParamsOption = Path("params.yaml")) -> None:
    """Parse and denoise .skeleton files into a sample index + joints array."""
    from skelssl.pipeline import ingest as stage

    run_stage(stage.run, [str(input_dir), str(out_dir)], params)


@app.command()
def preprocess(ingested_dir: Path, out_dir: Path, params: ParamsOption = Path("params.yaml")) -> None:
    """Centre, align, crop/resize to T frames and compute motion (numba)."""
    from skelssl.pipeline import preprocess as stage

    run_stage(stage.run, [str(ingested_dir), str(out_dir)], params)


@app.command()
def pretrain(processed_dir: Path, out_dir: Path, history_dir: Path, state_dir: Path,
             params: ParamsOption = Path("params.yaml")) -> None:
    """Pretrain the selected method; write the encoder, the step history and a resumable state."""
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


def _protocol_command(module: str, function: str, doc: str) -> Callable[..., None]:
    def command(processed_dir: Path, encoder: Path, out_dir: Path,
                params: ParamsOption = Path("params.yaml")) -> None:
        stage = importlib.import_module(f"skelssl.pipeline.{module}")
        run_stage(getattr(stage, function), [str(processed_dir), str(encoder), str(out_dir)], params)

    command.__doc__ = doc
    return command


for _name, (_module, _function, _doc) in PROTOCOLS.items():
    app.command(_name)(_protocol_command(_module, _function, _doc))


@app.command()
def transfer(encoder: Path, out_dir: Path, params: ParamsOption = Path("params.yaml")) -> None:
    """Fine-tune ENCODER on another dataset (the embedded transfer target) and from scratch."""
    from skelssl.pipeline import transfer as stage

    run_stage(stage.run, [str(encoder), str(out_dir)], params)


@app.command()
def report(
    origin: Annotated[str, typer.Option("--from", help="workspace | exps (dvc exp show) | both")] = "both",
    out: Annotated[Path, typer.Option("--out", help="folder for report.md and report.png")] = Path("docs/report"),
    latest_per_method: Annotated[bool, typer.Option("--latest-per-method",
                                                    help="keep the newest row per method and dataset")] = False,
    all_commits: Annotated[bool, typer.Option("--all-commits",
                                              help="experiments of every commit (dvc exp show -A)")] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Methods × protocols comparison (Markdown + PNG), with the papers' numbers for reference."""
    from skelssl.console import setup_logging
    from skelssl.report.collect import collect

    setup_logging()
    try:
        rows = collect(origin, Path("."), params_file=params, latest=latest_per_method, all_commits=all_commits)
        from skelssl.report.build import write_report  # imports torch (skelssl.io): only once rows exist

        write_report(rows, out, origin)
    except SkelsslError as exc:
        fail(str(exc))


@app.command("export-pyskl")
def export_pyskl(ingested_dir: Path, out: Path) -> None:
    """Write an ingest artifact (index.parquet + joints.npy + meta.json) as a pyskl annotation pickle."""
    from skelssl.console import setup_logging
    from skelssl.data.interchange import export_pyskl as export

    setup_logging()
    try:
        count = export(ingested_dir, out)
    except SkelsslError as exc:
        fail(str(exc))
    console.print(f"{out}: {count} clips", highlight=False)


@params_app.command("check")
def params_check(file: Annotated[Path, typer.Argument()] = Path("params.yaml")) -> None:
    """Validate a params file: one line per problem, naming the dotted key; exit 1 if any."""
    try:
        raw = read_yaml(file)
        Params.model_validate(raw)
    except SkelsslError as exc:
        fail(str(exc))
    except ValidationError as exc:
        for message in validation_messages(exc):
            console.print(f"[bold red]error:[/] {file}: {message}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    console.print(f"{file}: ok", highlight=False)


def main() -> None:
    app()

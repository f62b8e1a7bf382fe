"""The `skelssl` command: one command per DVC stage, plus `params check`.

Stage commands call the same `skelssl.pipeline.<stage>.run` functions as `stages/*.py`.
"""

from __future__ import annotations

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


@app.command()
def evaluate(processed_dir: Path, encoder: Path, out_dir: Path,
             params: ParamsOption = Path("params.yaml")) -> None:
    """Linear probe and kNN for the pretrained and a random-init encoder."""
    from skelssl.pipeline import evaluate as stage

    run_stage(stage.run, [str(processed_dir), str(encoder), str(out_dir)], params)


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

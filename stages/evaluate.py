"""DVC stage `evaluate`. Usage: python stages/evaluate.py PROCESSED_DIR ENCODER OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import evaluate
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(evaluate.run)

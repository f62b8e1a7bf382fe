"""DVC stage `robustness`. Usage: python stages/robustness.py PROCESSED_DIR ENCODER OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import robustness
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(robustness.run)

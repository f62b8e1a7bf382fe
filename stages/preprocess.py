"""DVC stage `preprocess`. Usage: python stages/preprocess.py INGESTED_DIR OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import preprocess
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(preprocess.run)

"""DVC stage `ingest`. Usage: python stages/ingest.py INPUT_DIR OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import ingest
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(ingest.run)

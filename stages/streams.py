"""DVC stage `streams`. Usage: python stages/streams.py PROCESSED_DIR ENCODER OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import streams
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(streams.run)

"""DVC stage `synthesize`. Usage: python stages/synthesize.py OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import synthesize
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(synthesize.run)

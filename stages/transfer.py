"""DVC stage `transfer`. Usage: python stages/transfer.py ENCODER OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import transfer
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(transfer.run)

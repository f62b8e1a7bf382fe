"""DVC stage `pretrain`. Usage: python stages/pretrain.py PROCESSED_DIR OUT_DIR HISTORY_DIR STATE_DIR
(paths come from dvc.yaml)."""

from skelssl.pipeline import pretrain
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(pretrain.run)

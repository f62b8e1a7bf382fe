"""DVC stage `pretrain`. Usage: python stages/pretrain.py PROCESSED_DIR OUT_DIR RESULTS_DIR STATE_DIR
(paths come from dvc.yaml). RESULTS_DIR gets the live log, `RESULTS_DIR/live/` (skelssl.live)."""

from skelssl.pipeline import pretrain
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(pretrain.run)

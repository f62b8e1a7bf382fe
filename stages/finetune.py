"""DVC stage `finetune`. Usage: python stages/finetune.py PROCESSED_DIR ENCODER OUT_DIR (paths come from dvc.yaml);
OUT_DIR gets metrics.json and the live log, `OUT_DIR/live/` (skelssl.live)."""

from skelssl.pipeline import finetune
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(finetune.run_finetune)

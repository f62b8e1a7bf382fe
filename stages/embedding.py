"""DVC stage `embedding`. Usage: python stages/embedding.py PROCESSED_DIR ENCODER OUT_DIR (paths come from dvc.yaml)."""

from skelssl.pipeline import embedding
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(embedding.run)

"""DVC stage `report`. Usage: python stages/report.py OUT_DIR (reads the workspace's metrics files)."""

from skelssl.report import build
from skelssl.runner import stage_main

if __name__ == "__main__":
    stage_main(build.run)

"""One `run()` per DVC stage. `stages/*.py` and the `skelssl` CLI both call these."""

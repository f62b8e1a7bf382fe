"""`skelssl report`: a methods × protocols comparison (Markdown + PNG) from the workspace's metrics
files and/or the DVC experiments, with the papers' reported numbers in separate columns.

Modules: `spec` (files, keys, columns), `collect` (rows), `paper` (reported numbers),
`table` (Markdown), `figure` (PNG), `build` (writes both; the DVC stage's `run`).
"""

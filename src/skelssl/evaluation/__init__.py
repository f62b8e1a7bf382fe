"""Evaluation protocols. They depend on backbones and checkpoints only, never on methods."""

"""Plots and the HTML report: the data, its power law, the model comparison, the latent space."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

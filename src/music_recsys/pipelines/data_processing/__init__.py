"""Raw playlists file → parsed, cleaned, filtered rows → train / validation / test playlists."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

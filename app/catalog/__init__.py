"""The business-model content: schema, loader and checker (no database)."""

from app.catalog.loader import Catalog, ContentError, check_content, load_catalog

__all__ = ["Catalog", "ContentError", "check_content", "load_catalog"]

"""Business logic: keyword-only functions that query and flush, never render or commit."""

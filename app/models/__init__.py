"""Tables, one module each. Importing this package registers them all on SQLModel.metadata."""

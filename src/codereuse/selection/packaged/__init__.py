"""Locators for the pool's models, in the shape ``model.source=package`` expects (``get_model_path()``)."""

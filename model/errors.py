"""Errors shared by the weight loaders."""


class WeightsError(ValueError):
    """A weights file that cannot be loaded; the message names the file and what to do."""

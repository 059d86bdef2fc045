"""Training pieces: torch-exact SGD, the official step schedule, the resolved run config, evaluation metrics.

Import the submodules directly (`from training.config import resolve_config`): config and metrics need no
TensorFlow, so main.py can report a bad flag before TensorFlow starts.
"""

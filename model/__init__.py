"""The ST-GCN model (Keras 3), its config, and loaders for published weights."""

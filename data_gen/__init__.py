"""Dataset tools: NTU RGB+D skeleton reading and preprocessing, and the .npy / TFRecord generators."""

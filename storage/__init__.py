"""On-disk contracts (numpy and json only, no TensorFlow): `storage.files` owns file names, meta.json, the .npy +
label pair and the one atomic writer every output goes through."""

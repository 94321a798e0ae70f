// Carrier for the MLIR precompiled header.

"""Many runs: seeds, executors and Parquet parts; sweeps, comparisons, calibration, statistics."""

"""Side effects live here: the host loop, evaluation, checkpoints and logs."""

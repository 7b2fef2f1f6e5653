"""Training: settings, the loop, the methods and their losses, accumulation, the linear probe, several processes, speed options, run folders."""

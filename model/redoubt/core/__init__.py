"""The simulation: the valley, its agents, the day's processes and their numeric kernels."""

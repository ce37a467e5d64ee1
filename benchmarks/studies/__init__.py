"""Studies: the built-in tasks and guides, learning on Pendulum, AWAC's initialisation, temperature and
d3rlpy's AWAC on the same data, a first offline-to-online look."""

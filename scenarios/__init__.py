"""The bundled scenarios and sweep files, installed as the package data `redoubt.scenarios`."""

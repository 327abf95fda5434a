"""OpenCL C sources for vecgrad, one file per kernel family."""

"""The Hydra configs of execgym's entry points (package data of ``execgym.conf``)."""

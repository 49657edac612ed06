"""Calibration, in one place: the order flow's parameters from a LOBSTER day (:mod:`.flow`,
after Cont, Stoikov & Talreja) and the Almgren-Chriss parameters of a market, simulated or
replayed (:mod:`.almgren_chriss`)."""

from execgym.envs.market.analysis.calibration.almgren_chriss import (
    ACCalibration,
    calibrate_almgren_chriss,
    calibrate_almgren_chriss_replay,
)
from execgym.envs.market.analysis.calibration.flow import FlowCalibration, calibrate_flow

__all__ = ["ACCalibration", "FlowCalibration", "calibrate_almgren_chriss", "calibrate_almgren_chriss_replay",
           "calibrate_flow"]

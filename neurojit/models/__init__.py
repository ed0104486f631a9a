"""Models built on neurojit's kernels: an Echo State Network, a Liquid State Machine,
their shared ridge readout, and locally generated benchmark tasks."""

from .esn import PRESETS, EchoStateNetwork
from .lsm import LSM_PRESETS, LiquidStateMachine, LSMState, NeuronState
from .readout import RidgeReadout
from .tasks import SpikePatternTask, mackey_glass, mackey_glass_task, narma10, nrmse, spike_pattern_task

__all__ = [
    "EchoStateNetwork",
    "PRESETS",
    "LiquidStateMachine",
    "LSM_PRESETS",
    "LSMState",
    "NeuronState",
    "RidgeReadout",
    "SpikePatternTask",
    "mackey_glass",
    "mackey_glass_task",
    "narma10",
    "nrmse",
    "spike_pattern_task",
]

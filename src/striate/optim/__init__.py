"""Optimizers and learning-rate schedules (``torch.optim``'s interface and update rules).

>>> opt = striate.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = striate.optim.lr_scheduler.StepLR(opt, step_size=10)
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]

from .multi_task_loss import MultiTaskLoss
from .task_losses import (
                          BalancedBCELoss,
                          DepthL1Loss,
                          NormalL1Loss,
                          TaskCrossEntropyLoss,
)

__all__ = ['BalancedBCELoss', 'DepthL1Loss', 'MultiTaskLoss', 'NormalL1Loss',
           'TaskCrossEntropyLoss']

"""The task specs a transform reads: its own ``task_cfg``, or its
dataset's.

A transform that reads task settings (keys, dtypes, ignore index, how values
react to resizing and flipping) takes ``task_cfg`` like every other
component. A :class:`~mmtlsi.datasets.MultiTaskSegDataset` hands its own
specs (its ``tasks`` and ``task_cfg``) to every such transform of its
pipeline, so that an override written once on the dataset reaches them all;
a transform given a ``task_cfg`` of its own must agree with the dataset on
the fields it reads, or the dataset refuses to build.
"""
from __future__ import annotations

from typing import Dict, Iterator, Mapping, Optional

from mmtlsi.tasks import TaskSpec, check_task_specs_agree, task_specs_for


class TaskSpecsMixin:
    """Task specs of a transform: ``task_cfg`` applied to every registered
    task, or the specs a dataset bound (:meth:`bind_task_specs`)."""

    #: the :class:`~mmtlsi.tasks.TaskSpec` fields the transform reads
    SPEC_FIELDS: tuple = ()

    def _init_task_specs(self, task_cfg: Optional[Mapping[str, dict]]
                         ) -> None:
        self.task_cfg = dict(task_cfg or {})
        self._bound_specs: Optional[Dict[str, TaskSpec]] = None
        task_specs_for(None, self.task_cfg)   # bad settings fail here

    @property
    def task_specs(self) -> Dict[str, TaskSpec]:
        """Task name -> spec, of every task the transform may meet."""
        if self._bound_specs is not None:
            return self._bound_specs
        return task_specs_for(None, self.task_cfg)

    def bind_task_specs(self, specs: Mapping[str, TaskSpec],
                        source: str) -> None:
        """Read ``specs`` (those of the dataset ``source``) for their tasks.

        A transform built with its own ``task_cfg`` keeps it only where it
        agrees with ``specs`` on :attr:`SPEC_FIELDS`; a difference raises
        ``ValueError`` naming the task and the field.
        """
        own = task_specs_for(None, self.task_cfg)
        if self.task_cfg:
            check_task_specs_agree(
                specs, own, self.SPEC_FIELDS, source,
                f'{type(self).__name__} (its task_cfg)')
        own.update(specs)
        self._bound_specs = own


def iter_transforms(pipeline) -> Iterator:
    """Every transform in ``pipeline`` (a ``Compose``), also those nested in
    wrappers (``RandomChoice``'s ``transforms``, ``TestTimeAug``'s
    ``subroutines``)."""
    for attr in ('transforms', 'subroutines'):
        inner = getattr(pipeline, attr, None)
        if isinstance(inner, (list, tuple)):
            for t in inner:
                yield t
                yield from iter_transforms(t)

"""Keep an instance's task tree bounded (DESIGN §4).

SpiffWorkflow keeps every task it ever ran: each round of a loop adds a few tasks, every
step walks the whole tree, and its iterators stop at depth 1,000, so a looping instance
silently stalls after a few hundred rounds.  Completed history belongs in the app's tables,
so after every step ``prune`` drops the finished tasks nothing needs any more.

How: in each (sub)workflow, mark the *anchors*, the tasks that must stay:

* the root task;
* every unfinished task (READY, WAITING, STARTED, FUTURE, LIKELY, MAYBE), which includes
  waiting events, boundary events, open joins, event-based gateways, multi-instance and
  loop parents, and subprocess tasks whose subworkflow runs;
* the parent of every unfinished task: the newest finished task of its branch, whose data
  the task inherits and which is the ``BoundaryEventSplit``/``StartEventSplit`` a pending
  boundary or start event join looks for;
* every child of an unfinished multi-instance or loop task (finished instances too: the
  parent keeps their ids in ``internal_data['merged']`` and counts their completion);
* while a join (parallel, inclusive, end join …) has a WAITING or READY instance: for each
  of its incoming paths the newest finished instance and its parent (the join counts and
  merges the inputs that already arrived through them; see ``_arrived_inputs``);
* ``workflow.last_task``.

Then keep the anchors plus every task where two anchored branches meet (so that which kept
task descends from which is unchanged), give each kept task its nearest kept ancestor as
parent, and drop everything else.  Finished chains collapse to the one task just above the
live work; finished side branches (cancelled boundary events, finished parallel branches,
old loop rounds) disappear.  ``max_history`` keeps more finished tasks above each kept one.

Subprocesses: a finished subworkflow task (call activity, subprocess) keeps nothing of its
subworkflow (the subworkflow, and those it started, are deleted); a running one is an
anchor and its subworkflow is pruned the same way.

Kept tasks keep their own data objects, and the serializer stores data as deltas against
the (new) parent, so the data stays intact.  Tasks are also re-ordered parent-first, which
the serializer needs to restore those deltas.
"""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

__all__ = ["PruneStats", "prune", "prune_workflow", "count_tasks"]

_UNFINISHED = TaskState.NOT_FINISHED_MASK
_FINISHED = TaskState.FINISHED_MASK
_OPEN_JOIN = TaskState.WAITING | TaskState.READY


@dataclass
class PruneStats:
    tasks_before: int = 0
    tasks_after: int = 0
    subprocesses_removed: int = 0


def count_tasks(workflow) -> int:
    """Tasks in ``workflow`` and all its subworkflows."""
    return len(workflow.tasks) + sum(len(sp.tasks) for sp in workflow.subprocesses.values())


def prune(workflow, max_history: int = 1) -> PruneStats:
    """Drop the finished history of a top-level workflow and its subworkflows, in place."""
    stats = PruneStats(tasks_before=count_tasks(workflow))
    # Subworkflows of finished (or vanished) subworkflow tasks are not needed any more.
    for sp_id in list(workflow.subprocesses):
        if sp_id not in workflow.subprocesses:
            continue  # already removed with its parent
        task = _find_task(workflow, sp_id)
        if task is None or task.state & _FINISHED:
            stats.subprocesses_removed += _delete_subprocess(workflow, sp_id)
    for wf in [workflow, *workflow.subprocesses.values()]:
        prune_workflow(wf, max_history)
    stats.tasks_after = count_tasks(workflow)
    return stats


def _find_task(top, task_id: UUID):
    task = top.tasks.get(task_id)
    if task is None:
        for sp in top.subprocesses.values():
            task = sp.tasks.get(task_id)
            if task is not None:
                break
    return task


def _delete_subprocess(top, sp_id: UUID) -> int:
    """Delete a subworkflow and every subworkflow started from its tasks."""
    sp = top.subprocesses.pop(sp_id, None)
    if sp is None:
        return 0
    removed = 1
    for task_id in list(sp.tasks):
        if task_id in top.subprocesses:
            removed += _delete_subprocess(top, task_id)
    for task in sp.tasks.values():
        top.event_manager.remove_task(task)
    return removed


def _anchors(workflow) -> set[UUID]:
    tasks = workflow.tasks
    anchors = {workflow.task_tree.id}
    open_joins = set()
    for task in tasks.values():
        if task._state & _UNFINISHED:
            anchors.add(task.id)
            if task._parent is not None:
                anchors.add(task._parent)
            if isinstance(task.task_spec, LoopTask):
                anchors.update(task._children)
            elif task._state & _OPEN_JOIN and isinstance(task.task_spec, Join):
                open_joins.add(task.task_spec.name)
    if open_joins:
        anchors.update(_arrived_inputs(tasks, open_joins))
    last = workflow.last_task
    if last is not None and last.id in tasks:
        anchors.add(last.id)
    # a running subworkflow's task is unfinished anyway; this guards odd states
    top = workflow.top_workflow
    for sp_id, sp in top.subprocesses.items():
        if sp_id in tasks and not sp.completed:
            anchors.add(sp_id)
    anchors.intersection_update(tasks)
    return anchors


def _arrived_inputs(tasks: dict, open_joins: set[str]) -> set[UUID]:
    """Finished instances of open joins, and their parents: the inputs that already arrived.

    Per join and incoming path (the spec of the instance's parent) only the newest
    finished instance is kept: that is all a join's threshold check needs, and it keeps a
    join that is fed again and again while it waits (an end join behind a repeating,
    non-interrupting timer) from growing without bound.  The data merged at the join
    then comes from the newest arrival of each path.
    """
    newest: dict[tuple[str, str], object] = {}
    for task in tasks.values():
        if task.task_spec.name not in open_joins or not task._state & _FINISHED:
            continue
        parent = tasks.get(task._parent)
        if parent is None:
            continue
        key = (task.task_spec.name, parent.task_spec.name)
        best = newest.get(key)
        if best is None or task.last_state_change >= best.last_state_change:
            newest[key] = task
    kept = set()
    for task in newest.values():
        kept.add(task.id)
        kept.add(task._parent)
    return kept


def prune_workflow(workflow, max_history: int = 1) -> int:
    """Prune one (sub)workflow's own task tree; returns the number of tasks dropped."""
    tasks = workflow.tasks
    root = workflow.task_tree
    anchors = _anchors(workflow)
    if len(anchors) == len(tasks):
        return 0

    # Depth-first pre-order, iteratively (the tree may be deep if it was never pruned).
    order: list = []
    stack = [root]
    while stack:
        task = stack.pop()
        order.append(task)
        stack.extend(tasks[c] for c in reversed(task._children) if c in tasks)

    # A task is kept if it is an anchor or where two anchored branches meet.
    anchored: dict[UUID, bool] = {}
    kept: set[UUID] = set()
    for task in reversed(order):  # children before parents
        branches = sum(1 for c in task._children if anchored.get(c))
        is_kept = task.id in anchors or branches >= 2
        if is_kept:
            kept.add(task.id)
        anchored[task.id] = is_kept or branches > 0

    if max_history > 1:
        _keep_history(tasks, kept, max_history)

    if len(kept) == len(tasks):
        return 0

    # Re-link every kept task to its nearest kept ancestor, preserving child order.
    new_children: dict[UUID, list[UUID]] = {tid: [] for tid in kept}
    nearest: dict[UUID, UUID | None] = {}
    for task in order:
        parent_id = task._parent
        up = None if parent_id is None else (parent_id if parent_id in kept else nearest.get(parent_id))
        nearest[task.id] = up
        if task.id in kept:
            task._parent = up
            if up is not None:
                new_children[up].append(task.id)
    new_tasks = {}
    for task in order:
        if task.id in kept:
            task._children = new_children[task.id]
            new_tasks[task.id] = task
    dropped = [t for tid, t in tasks.items() if tid not in kept]
    top = workflow.top_workflow
    for task in dropped:
        top.event_manager.remove_task(task)
        if task.id in top.subprocesses and isinstance(task.task_spec, SubWorkflowTask):
            _delete_subprocess(top, task.id)
    workflow.tasks = new_tasks
    return len(dropped)


def _keep_history(tasks, kept: set, max_history: int) -> None:
    """Also keep up to ``max_history - 1`` finished tasks above each kept task."""
    for tid in list(kept):
        parent_id = tasks[tid]._parent
        extra = max_history - 1
        while extra > 0 and parent_id is not None and parent_id not in kept:
            kept.add(parent_id)
            extra -= 1
            parent_id = tasks[parent_id]._parent

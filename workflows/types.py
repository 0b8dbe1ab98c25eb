"""Value types shared by the engine layer and its callers.

These are the contract between ``workflows`` and the application: problems reported by
the linter, stage metadata read from diagrams, and the *effects* a step of the engine
produces (DESIGN §3).  Everything here is plain data: no SpiffWorkflow objects leak out.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

#: property names of a user task that describe its stage (DESIGN §5)
STAGE_PROPERTIES = ("stage.color", "stage.background", "stage.icon", "stage.state", "form")
#: the states a stage may show; ``waiting`` pauses SLA clocks
STAGE_STATES = ("new", "open", "in_progress", "waiting", "resolved", "closed", "cancelled")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an uploaded file, precise enough for an admin to fix it."""

    file: str
    message: str
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None
    #: stable identifier of the message template (``workflows.lint_messages.MESSAGES``), so
    #: the app can translate ``message``: ``MESSAGES[code].format(**params)`` == ``message``
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkflowError(Exception):
    """Base class of every error the engine layer raises on purpose."""


class BundleInvalid(WorkflowError):
    """A bundle of files cannot be deployed; ``problems`` lists every reason at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems[:3]))


class SandboxError(WorkflowError):
    """A script or expression was refused or stopped by the sandbox."""


class ScriptFailed(WorkflowError):
    """A diagram's script or expression failed while an instance ran.

    ``element_id``/``element_name`` name the BPMN element; the instance is left unchanged.
    """

    def __init__(self, message: str, element_id: str | None = None,
                 element_name: str | None = None, line: int | None = None):
        self.element_id = element_id
        self.element_name = element_name
        self.line = line
        super().__init__(message)


class TaskNotReady(WorkflowError):
    """The task to complete does not exist or is not READY any more."""


class NotWaitingForMessage(WorkflowError):
    """The instance does not (yet) wait for this message; the caller keeps it in an inbox."""


class StateInvalid(WorkflowError):
    """A stored instance state cannot be run: not ours, another format, or another process."""


@dataclass(frozen=True)
class StageMeta:
    color: str | None = None
    background: str | None = None
    icon: str | None = None
    state: str | None = None
    form: str | None = None

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> "StageMeta":
        return cls(
            color=props.get("stage.color"),
            background=props.get("stage.background"),
            icon=props.get("stage.icon"),
            state=props.get("stage.state"),
            form=props.get("form"),
        )


# --- effects of one engine step ------------------------------------------------------


@dataclass(frozen=True)
class StageOpened:
    """A user task became READY: a work item appears in a queue."""

    task_id: str
    element_id: str
    name: str
    process_id: str  # BPMN process id the task belongs to (differs inside call activities)
    lane: str | None
    stage: StageMeta
    assignee: str | None = None  # evaluated ``assignee`` property, if the diagram has one
    properties: dict[str, str] = field(default_factory=dict)
    #: why the ``assignee`` expression could not be evaluated (then ``assignee`` is None)
    assignee_error: str | None = None


@dataclass(frozen=True)
class StageClosed:
    task_id: str
    element_id: str
    status: str  # "done" | "cancelled"


@dataclass(frozen=True)
class TimerArmed:
    task_id: str
    element_id: str
    name: str
    due_at: datetime  # timezone-aware UTC
    interrupting: bool = True
    attached_to: str | None = None  # element id of the stage a boundary timer sits on


@dataclass(frozen=True)
class TimerDisarmed:
    task_id: str
    element_id: str


@dataclass(frozen=True)
class MessageAwaited:
    """The instance now waits for a named BPMN message (e.g. ``requester_reply``)."""

    name: str
    task_id: str
    element_id: str


@dataclass(frozen=True)
class MessageSent:
    """The diagram threw a message/signal the app must deliver (e.g. a notification)."""

    name: str
    payload: Any = None


@dataclass(frozen=True)
class DataChanged:
    """Top-level process data fields that changed: ``{field: (old, new)}``."""

    changes: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class InstanceFinished:
    status: str  # "completed" | "cancelled"


Effect = (StageOpened | StageClosed | TimerArmed | TimerDisarmed | MessageAwaited
          | MessageSent | DataChanged | InstanceFinished)


@dataclass(frozen=True)
class CompiledProcess:
    """A deployable, executable process: its serialized spec plus the specs it calls.

    ``spec`` is ``workflows.serialization.specs_to_dict(...)``'s result and ``digest`` its
    sha256; the app stores ``spec`` once per digest.
    """

    process_id: str
    name: str
    spec: dict[str, Any]
    digest: str
    source_file: str
    calls: tuple[str, ...] = ()           # process ids reached through call activities
    stages: tuple[dict[str, Any], ...] = ()  # [{element_id, name, lane, stage: StageMeta dict}]


@dataclass(frozen=True)
class Bundle:
    """A validated set of uploaded files, ready to store (``workflows.bundle.compile_bundle``).

    ``processes`` by BPMN process id; ``forms`` by form name (what a task's ``form`` property
    names), normalized to ``{title, schema, ui}``; ``diagrams`` the original XML of each
    .bpmn/.dmn file by file name; ``problems`` is empty when the bundle was returned.
    """

    processes: dict[str, CompiledProcess]
    forms: dict[str, dict[str, Any]]
    diagrams: dict[str, bytes]
    problems: list[Problem] = field(default_factory=list)

"""Marshmallow schemas: request validation and the documented response shapes (DESIGN §9)."""
from marshmallow import EXCLUDE, Schema, fields, validate


class _Out(Schema):
    class Meta:
        ordered = True


class ProblemSchema(_Out):
    file = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    message = fields.String()


class DeployedSchema(_Out):
    key = fields.String()
    version = fields.Integer()
    created = fields.Boolean()


class DeployResultSchema(_Out):
    key = fields.String()
    version = fields.Integer()
    processes = fields.List(fields.Nested(DeployedSchema))


class DefinitionSchema(_Out):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    active = fields.Boolean()
    digest = fields.String()
    source_file = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String(allow_none=True)
    calls = fields.List(fields.String())
    stages = fields.List(fields.Dict())


class DefinitionDetailSchema(_Out):
    key = fields.String()
    active_version = fields.Integer(allow_none=True)
    versions = fields.List(fields.Nested(DefinitionSchema))
    xml = fields.String(allow_none=True)


class StageSchema(_Out):
    task_id = fields.Integer()
    element_id = fields.String()
    name = fields.String()
    status = fields.String()
    state = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    background = fields.String(allow_none=True)
    icon = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)


class ProcessRefSchema(_Out):
    key = fields.String()
    version = fields.Integer()


class TicketSchema(_Out):
    id = fields.Integer()
    number = fields.String()
    subject = fields.String()
    description = fields.String()
    status = fields.String()
    priority = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    channel = fields.String()
    requester = fields.String(allow_none=True)
    closed = fields.Boolean()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    rating = fields.Integer(allow_none=True, metadata={"description": "1-5, from the requester's rate stage"})
    rating_comment = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True, metadata={"description": "the parent ticket of a child subtask"})
    process = fields.Nested(ProcessRefSchema)
    stages = fields.List(fields.Nested(StageSchema))
    open_stages = fields.List(fields.Nested(StageSchema))
    sla = fields.Dict()
    watchers = fields.List(fields.String())
    data = fields.Dict()
    history = fields.List(fields.Dict())
    history_url = fields.String()


class TicketCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    process = fields.String(required=True, validate=validate.Length(min=1, max=255))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(load_default="", validate=validate.Length(max=100_000))
    priority = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    category = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    service = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=128))
    requester = fields.String(load_default=None, allow_none=True)
    channel = fields.String(load_default="api")
    data = fields.Dict(load_default=dict)


class MessageCreateSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    internal = fields.Boolean(load_default=False)


class MessageSchema(_Out):
    id = fields.Integer()
    author = fields.String(allow_none=True)
    body = fields.String()
    internal = fields.Boolean()
    from_requester = fields.Boolean()
    created_at = fields.DateTime()


class WatcherCreateSchema(Schema):
    login = fields.String(required=True)


class TaskStageSchema(_Out):
    state = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    background = fields.String(allow_none=True)
    icon = fields.String(allow_none=True)


class FormSchema(_Out):
    name = fields.String(allow_none=True)
    schema = fields.Dict(allow_none=True)
    ui = fields.Dict(allow_none=True)
    fields_ = fields.List(fields.Dict(), data_key="fields")


class TaskSchema(_Out):
    id = fields.Integer()
    ticket_id = fields.Integer()
    ticket_number = fields.String()
    subject = fields.String()
    element_id = fields.String()
    name = fields.String()
    status = fields.String()
    stage = fields.Nested(TaskStageSchema)
    form = fields.Nested(FormSchema, allow_none=True)
    lane = fields.String(allow_none=True)
    group = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    data = fields.Dict()


class TaskCompleteSchema(Schema):
    data = fields.Dict(load_default=dict)


class TaskListQuerySchema(Schema):
    scope = fields.String(load_default="mine", validate=validate.OneOf(["mine", "group", "unassigned"]))
    cursor = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TaskListSchema(_Out):
    items = fields.List(fields.Nested(TaskSchema))
    next = fields.Integer(allow_none=True)


class InstanceQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(["running", "completed", "cancelled", "error"]))
    process = fields.String(load_default=None)
    overdue = fields.Boolean(load_default=False)
    cursor = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InstanceSchema(_Out):
    id = fields.Integer()
    status = fields.String()
    error = fields.String(allow_none=True)
    process = fields.Nested(ProcessRefSchema)
    ticket_id = fields.Integer(allow_none=True)
    ticket_number = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    tokens = fields.List(fields.String())
    timers = fields.List(fields.Dict())
    history = fields.List(fields.Dict())
    engine = fields.Dict()


class InstanceListSchema(_Out):
    items = fields.List(fields.Nested(InstanceSchema))
    next = fields.Integer(allow_none=True)

"""A tiny BPMN writer with a grid layout, used by ``build_bpmn.py`` (dev helper, not shipped).

A process is described as nodes placed on a grid (lane, row inside the lane, column) and
sequence flows with an optional routing hint.  ``Diagram.to_xml()`` returns a BPMN 2.0
document with a collaboration (one participant, horizontal swimlanes) and full BPMN DI, in
the extension format of the spiff-arena modeler (``spiffworkflow:properties``).

Routing hints for ``flow(..., route=...)``:

* ``None``: automatic orthogonal routing (straight, L-shaped out of/into gateways, or Z);
* ``("via", y, exit, enter)``: leave the source by its ``exit`` side (``top``/``bottom``),
  run horizontally at ``y`` and enter the target by its ``enter`` side (``top``/``bottom``/
  ``left``/``right``) — for loops back and for flows that must avoid other shapes;
* ``("vh", exit, enter)`` / ``("hv", exit, enter)``: an L-shape, vertical first or
  horizontal first, from the source's ``exit`` side into the target's ``enter`` side.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "xsi": XSI, "spiffworkflow": SPIFF}

SIZE = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}
KIND_TAG = {
    "start": ("startEvent", "event"), "end": ("endEvent", "event"),
    "throw": ("intermediateThrowEvent", "event"), "boundary": ("boundaryEvent", "event"),
    "user": ("userTask", "task"), "script": ("scriptTask", "task"),
    "call": ("callActivity", "task"), "xgw": ("exclusiveGateway", "gateway"),
}

PARTICIPANT_X, PARTICIPANT_Y = 160, 80
LABEL_BAND = 30           # the participant's name band on the left
FIRST_COL = 70            # distance from the lane's left edge to the centre of column 0
COL = 150                 # column pitch
ROW = 130                 # row pitch inside a lane
LANE_TOP = 85             # lane top to the centre of its row 0
LANE_BOTTOM = 95          # centre of the last row to the lane bottom


def q(ns, tag):
    return f"{{{ns}}}{tag}"


@dataclass
class Node:
    id: str
    kind: str
    name: str
    lane: str
    col: float
    row: int = 0
    props: dict = field(default_factory=dict)   # spiffworkflow:properties (user tasks)
    doc: str | None = None
    script: str | None = None
    called: str | None = None
    message: str | None = None
    payload: str | None = None          # messagePayload of a throw event
    variable: str | None = None         # messageVariable of a catch event
    attached_to: str | None = None
    default: str | None = None          # default flow of a gateway
    incoming: list = field(default_factory=list)
    outgoing: list = field(default_factory=list)
    # layout, filled by Diagram.layout()
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def shape(self):
        return KIND_TAG[self.kind][1]

    @property
    def cx(self):
        return self.x + self.w / 2

    @property
    def cy(self):
        return self.y + self.h / 2

    def side(self, which):
        return {"left": (self.x, self.cy), "right": (self.x + self.w, self.cy),
                "top": (self.cx, self.y), "bottom": (self.cx, self.y + self.h)}[which]


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None = None
    condition: str | None = None
    route: tuple | None = None
    waypoints: list = field(default_factory=list)


class Diagram:
    def __init__(self, process_id, name, lanes, doc=None):
        self.process_id = process_id
        self.name = name
        self.lanes = lanes            # [(lane name, rows)], top to bottom
        self.doc = doc
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []
        self.messages: list[str] = []
        self.lane_box: dict[str, tuple] = {}

    # --- building ------------------------------------------------------------------
    def node(self, id, kind, name, lane, col, row=0, **kw):
        assert id not in self.nodes, id
        self.nodes[id] = n = Node(id, kind, name, lane, col, row, **kw)
        if n.message and n.message not in self.messages:
            self.messages.append(n.message)
        return n

    def flow(self, source, target, name=None, condition=None, default=False, route=None):
        fid = f"Flow_{source}_{target}"
        assert fid not in {f.id for f in self.flows}, fid
        f = Flow(fid, source, target, name, condition, route)
        self.flows.append(f)
        self.nodes[source].outgoing.append(fid)
        self.nodes[target].incoming.append(fid)
        if default:
            self.nodes[source].default = fid
        return f

    # --- layout --------------------------------------------------------------------
    def lane_top(self, lane):
        return self.lane_box[lane][1]

    def lane_bottom(self, lane):
        x, y, w, h = self.lane_box[lane]
        return y + h

    def row_y(self, lane, row):
        return self.lane_top(lane) + LANE_TOP + row * ROW

    def col_x(self, col):
        return PARTICIPANT_X + LABEL_BAND + FIRST_COL + col * COL

    def layout(self):
        ncols = max(n.col for n in self.nodes.values()) + 1
        width = LABEL_BAND + FIRST_COL + (ncols - 1) * COL + FIRST_COL + 20
        y = PARTICIPANT_Y
        for lane, rows in self.lanes:
            h = LANE_TOP + (rows - 1) * ROW + LANE_BOTTOM
            self.lane_box[lane] = (PARTICIPANT_X + LABEL_BAND, y, width - LABEL_BAND, h)
            y += h
        self.participant_box = (PARTICIPANT_X, PARTICIPANT_Y, width, y - PARTICIPANT_Y)
        for n in self.nodes.values():
            n.w, n.h = SIZE[n.shape]
            if n.kind == "boundary":
                continue
            cx, cy = self.col_x(n.col), self.row_y(n.lane, n.row)
            n.x, n.y = cx - n.w / 2, cy - n.h / 2
        # boundary events after their hosts
        for n in self.nodes.values():
            if n.kind == "boundary":
                host = self.nodes[n.attached_to]
                n.x, n.y = host.x + host.w - n.w - 12, host.y + host.h - n.h / 2
        for f in self.flows:
            f.waypoints = self.route(f)

    def route(self, f):
        s, t = self.nodes[f.source], self.nodes[f.target]
        hint = f.route
        if hint and hint[0] == "via":
            _, y, exit_, enter = hint
            y = y(self) if callable(y) else y
            p0 = s.side(exit_)
            if enter in ("top", "bottom"):
                p3 = t.side(enter)
                return [p0, (p0[0], y), (p3[0], y), p3]
            p3 = t.side(enter)
            return [p0, (p0[0], y), (p3[0] - 20 if enter == "left" else p3[0] + 20, y),
                    (p3[0] - 20 if enter == "left" else p3[0] + 20, p3[1]), p3]
        if hint and hint[0] == "vh":      # ("vh", exit, enter): vertical, then horizontal
            p0, p3 = s.side(hint[1]), t.side(hint[2])
            return [p0, (p0[0], p3[1]), p3]
        if hint and hint[0] == "hv":      # ("hv", exit, enter): horizontal, then vertical
            p0, p3 = s.side(hint[1]), t.side(hint[2])
            return [p0, (p3[0], p0[1]), p3]
        if abs(s.cy - t.cy) < 1:
            if t.cx > s.cx:
                return [s.side("right"), t.side("left")]
            return [s.side("left"), t.side("right")]
        if abs(s.cx - t.cx) < 1:
            down = t.cy > s.cy
            return [s.side("bottom" if down else "top"), t.side("top" if down else "bottom")]
        down = t.cy > s.cy
        if s.shape == "gateway" or s.kind == "boundary":
            p0 = s.side("bottom" if down else "top")
            p3 = t.side("left" if t.cx > s.cx else "right")
            return [p0, (p0[0], p3[1]), p3]
        if t.shape == "gateway":
            p0 = s.side("right" if t.cx > s.cx else "left")
            p3 = t.side("top" if down else "bottom")
            return [p0, (p3[0], p0[1]), p3]
        p0, p3 = s.side("right"), t.side("left")
        mid = (p0[0] + p3[0]) / 2
        return [p0, (mid, p0[1]), (mid, p3[1]), p3]

    # --- XML -----------------------------------------------------------------------
    def to_xml(self):
        self.layout()
        E = lambda ns, tag, parent=None, **attrs: (  # noqa: E731
            etree.SubElement(parent, q(ns, tag), {k: str(v) for k, v in attrs.items()})
            if parent is not None else etree.Element(q(ns, tag), {k: str(v) for k, v in attrs.items()}, nsmap=NSMAP))
        pid = self.process_id
        root = E(BPMN, "definitions", id=f"{pid}_definitions", targetNamespace="http://bpmn.io/schema/bpmn",
                 exporter="stagedesk scripts/dev/build_bpmn.py", exporterVersion="1")
        collab = E(BPMN, "collaboration", root, id=f"{pid}_collaboration")
        E(BPMN, "participant", collab, id=f"{pid}_participant", name=self.name, processRef=pid)
        proc = E(BPMN, "process", root, id=pid, name=self.name, isExecutable="true")
        if self.doc:
            E(BPMN, "documentation", proc).text = self.doc
        lane_set = E(BPMN, "laneSet", proc, id=f"{pid}_lanes")
        for lane, _rows in self.lanes:
            el = E(BPMN, "lane", lane_set, id=self.lane_id(lane), name=lane)
            for n in self.nodes.values():
                if n.lane == lane:
                    E(BPMN, "flowNodeRef", el).text = n.id
        for n in self.nodes.values():
            self._node_xml(E, proc, n)
        for f in self.flows:
            el = E(BPMN, "sequenceFlow", proc, id=f.id, sourceRef=f.source, targetRef=f.target)
            if f.name:
                el.set("name", f.name)
            if f.condition:
                c = E(BPMN, "conditionExpression", el)
                c.set(q(XSI, "type"), "bpmn:tFormalExpression")
                c.text = f.condition
        for m in self.messages:
            E(BPMN, "message", root, id=m, name=m)
        # DI
        dia = E(BPMNDI, "BPMNDiagram", root, id=f"{pid}_diagram")
        plane = E(BPMNDI, "BPMNPlane", dia, id=f"{pid}_plane", bpmnElement=f"{pid}_collaboration")
        self._shape(E, plane, f"{pid}_participant", self.participant_box, isHorizontal="true")
        for lane, _rows in self.lanes:
            self._shape(E, plane, self.lane_id(lane), self.lane_box[lane], isHorizontal="true")
        for n in self.nodes.values():
            extra = {"isMarkerVisible": "true"} if n.shape == "gateway" else {}
            sh = self._shape(E, plane, n.id, (n.x, n.y, n.w, n.h), **extra)
            if n.shape in ("event", "gateway") and n.name:
                lb = self.node_label(n)
                E(DC, "Bounds", E(BPMNDI, "BPMNLabel", sh), **self._bounds(lb))
        for f in self.flows:
            ed = E(BPMNDI, "BPMNEdge", plane, id=f"{f.id}_di", bpmnElement=f.id)
            for x, y in f.waypoints:
                E(DI, "waypoint", ed, x=_num(x), y=_num(y))
            if f.name:
                E(DC, "Bounds", E(BPMNDI, "BPMNLabel", ed), **self._bounds(self.edge_label(f)))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _node_xml(self, E, proc, n):
        tag, _ = KIND_TAG[n.kind]
        el = E(BPMN, tag, proc, id=n.id, name=n.name)
        if n.kind == "boundary":
            el.set("attachedToRef", n.attached_to)
            el.set("cancelActivity", "true")
        if n.kind == "call":
            el.set("calledElement", n.called)
        if n.kind == "script":
            el.set("scriptFormat", "python")
        if n.default:
            el.set("default", n.default)
        if n.doc:
            E(BPMN, "documentation", el).text = n.doc
        if n.props:
            ext = E(BPMN, "extensionElements", el)
            props = E(SPIFF, "properties", ext)
            for k, v in n.props.items():
                E(SPIFF, "property", props, name=k, value=v)
        for fid in n.incoming:
            E(BPMN, "incoming", el).text = fid
        for fid in n.outgoing:
            E(BPMN, "outgoing", el).text = fid
        if n.kind == "script":
            E(BPMN, "script", el).text = n.script
        if n.message:
            md = E(BPMN, "messageEventDefinition", el, id=f"{n.id}_message", messageRef=n.message)
            if n.payload or n.variable:
                ext = E(BPMN, "extensionElements", md)
                if n.payload:
                    E(SPIFF, "messagePayload", ext).text = n.payload
                if n.variable:
                    E(SPIFF, "messageVariable", ext).text = n.variable

    def edge_label(self, f):
        """Bounds of a flow's name: above its channel (loops) or beside its first segment."""
        pts = f.waypoints
        width = min(6.2 * len(f.name) + 4, 110)
        if f.route and f.route[0] == "via":          # above the channel, near the target
            (x1, y), (x2, _) = pts[1], pts[2]
            x = x2 + 8 if x2 < x1 else x2 - width - 8
            return (x, y - 17, width, 14)
        (x0, y0), (x1, y1) = pts[0], pts[1]
        if abs(y0 - y1) < 1:                          # horizontal: above, wrapped to fit
            room = abs(x1 - x0) - 8
            w = width if width <= room else max(room, 40)
            lines = -(-width // w)
            return (min(x0, x1) + 4, y0 - 4 - 14 * lines, w, 14 * lines)
        return (x0 + 6, (y0 + y1) / 2 - 7, width, 14)  # vertical: to the right, halfway

    def node_label(self, n):
        if n.shape == "gateway":     # upper left, clear of the flows at the gateway's corners
            return (n.cx - 100, n.y - 30, 76, 27)
        if n.kind == "boundary":     # right of the event, below its host
            return (n.x + n.w + 2, n.y + n.h - 8, 80, 27)
        return (n.cx - 45, n.y + n.h + 5, 90, 27)

    @staticmethod
    def lane_id(lane):
        return "Lane_" + lane.replace(" ", "_").lower()

    def _shape(self, E, plane, element, box, **extra):
        sh = E(BPMNDI, "BPMNShape", plane, id=f"{element}_di", bpmnElement=element, **extra)
        E(DC, "Bounds", sh, **self._bounds(box))
        return sh

    @staticmethod
    def _bounds(box):
        x, y, w, h = box
        return {"x": _num(x), "y": _num(y), "width": _num(w), "height": _num(h)}


def _num(v):
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"

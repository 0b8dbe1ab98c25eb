#!/usr/bin/env python3
"""Regenerate the shipped process library ``bpmn/*.bpmn`` (dev helper).

The diagrams in ``bpmn/`` are the source of truth: process admins edit them in bpmn-js,
Camunda Modeler or the spiff-arena modeler.  This script only saved us laying out the
first versions by hand; once a diagram is edited in a modeler, do not regenerate it.

    .venv/bin/python scripts/dev/build_bpmn.py [OUT_DIR]     # default: bpmn/
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bpmn_layout import Diagram  # noqa: E402


def stage(color, background, icon, state, form, assignee=None):
    props = {"stage.color": color, "stage.background": background, "stage.icon": icon,
             "stage.state": state, "form": form}
    if assignee:
        props["assignee"] = assignee
    return props


# --- the stages' looks (text colour on background: WCAG AA contrast >= 4.5) -----------
REGISTER = ("#1565C0", "#E3F2FD", "headset", "new", "register.json")
CLASSIFY = ("#4527A0", "#EDE7F6", "tags", "open", "classify.json")
ASSESS = ("#283593", "#E8EAF6", "signpost-split", "open", "assess.json")
RESOLVE_L1 = ("#006064", "#E0F7FA", "wrench", "in_progress", "resolve_line1.json")
ASSIGN = ("#00695C", "#E0F2F1", "person-check", "open", "assign.json")
IDENTIFY = ("#BF360C", "#FBE9E7", "search", "in_progress", "identify.json")
RESOLVE = ("#2E7D32", "#E8F5E9", "tools", "in_progress", "resolve.json")
WAIT = ("#5D4037", "#EFEBE9", "hourglass-split", "waiting", "wait_requester.json")
TRAINING = ("#6A1B9A", "#F3E5F5", "mortarboard", "in_progress", "training.json")
CONFIRM = ("#1B5E20", "#F1F8E9", "check2-circle", "resolved", "confirm.json")
CONFIRM_FULFILMENT = ("#1B5E20", "#F1F8E9", "check2-circle", "resolved", "confirm_fulfilment.json")
RATE = ("#7A5C00", "#FFFDE7", "star", "closed", "rate.json")
WORK_L2 = ("#AD1457", "#FCE4EC", "arrow-up-circle", "in_progress", "escalate_work.json")
WORK_L3 = ("#C62828", "#FFEBEE", "arrow-up-circle", "in_progress", "escalate_work.json")
WORK_VENDOR = ("#37474F", "#ECEFF1", "building", "in_progress", "escalate_vendor.json")
APPROVE = ("#0D47A1", "#E3F2FD", "patch-check", "waiting", "approve.json")
PLAN = ("#01579B", "#E1F5FE", "list-check", "open", "plan.json")
FULFIL = ("#33691E", "#F1F8E9", "cart-check", "in_progress", "fulfil.json")
SUBTASK_WORK = ("#4E342E", "#EFEBE9", "kanban", "in_progress", "subtask_work.json")
SUBTASK_REVIEW = ("#1A237E", "#E8EAF6", "clipboard-check", "in_progress", "subtask_review.json")

PRIORITY_SCRIPT = """\
# ITIL priority matrix: impact (1 high .. 3 low) x urgency (1 high .. 3 low) -> P1..P4
priority = [["P1", "P2", "P3"],
            ["P2", "P3", "P4"],
            ["P3", "P4", "P4"]][int(impact) - 1][int(urgency) - 1]
# the ticket starts at line 1; defaults so that later expressions never miss a field
line = 1
engineer = None
needs_training = False
question = ""
resolution = ""
"""

NOTIFY = "notify_requester"
REPLY = "requester_reply"


def incident():
    d = Diagram("incident", "Incident", [("Requester", 1), ("Line 1", 2), ("Line 2", 3)],
                doc="ITIL incident lifecycle: registration, classification, line 1 assessment, "
                    "diagnosis and resolution at line 2 (escalation to line 3 and the vendor "
                    "through the 'escalation' process), optional training, confirmation and "
                    "rating by the requester.")
    n = d.node
    L1, L2, RQ = "Line 1", "Line 2", "Requester"
    n("start_received", "start", "Ticket received", L1, 0)
    n("register", "user", "Registration", L1, 1, props=stage(*REGISTER),
      doc="Check and complete the ticket as the requester filed it: subject, description, "
          "requester, channel and service.")
    n("classify", "user", "Classification and prioritisation", L1, 2, props=stage(*CLASSIFY),
      doc="Set the type of the ticket and its impact and urgency; the priority follows from "
          "the matrix.")
    n("compute_priority", "script", "Compute priority", L1, 3, script=PRIORITY_SCRIPT)
    n("assess", "user", "Initial assessment", L1, 4, props=stage(*ASSESS),
      doc="Decide whether line 1 can solve the ticket or it goes to line 2.")
    n("gw_solve_l1", "xgw", "Solve at line 1?", L1, 5)
    n("merge_resolve_l1", "xgw", "", L1, 6)
    n("resolve_l1", "user", "Resolution at line 1", L1, 7, props=stage(*RESOLVE_L1),
      doc="Solve the ticket at line 1 and describe the solution, or escalate it.")
    n("gw_l1_next", "xgw", "Escalate?", L1, 8)
    n("call_escalate_l1", "call", "Escalate from line 1", L1, 9, row=1, called="escalation")
    n("gw_l1_escalated", "xgw", "Solved by a higher line?", L1, 10, row=1)
    n("merge_l1_done", "xgw", "", L1, 11)

    n("route_line2", "script", "Route to line 2", L2, 5, row=1, script="line = 2\n")
    n("assign", "user", "Assignment of an engineer", L2, 6, row=1, props=stage(*ASSIGN),
      doc="Pick the line 2 engineer who will handle the ticket.")
    n("merge_identify", "xgw", "", L2, 7, row=1)
    n("identify", "user", "Identification (diagnosis)", L2, 8, row=1,
      props=stage(*IDENTIFY, assignee="engineer"),
      doc="Find the cause. Ask the requester a question, escalate, or go on to resolution.")
    n("gw_identify_next", "xgw", "Next step?", L2, 9, row=1)
    n("merge_resolve", "xgw", "", L2, 10, row=1)
    n("resolve", "user", "Resolution", L2, 11, row=1, props=stage(*RESOLVE, assignee="engineer"),
      doc="Solve the ticket and describe the solution; ask the requester or escalate if needed.")
    n("gw_resolve_next", "xgw", "Next step?", L2, 12, row=1)
    for stage_id, col in (("identify", 7), ("resolve", 10)):
        n(f"merge_wait_{stage_id}", "xgw", "", L2, col, row=2)
        n(f"wait_{stage_id}", "user", "Waiting for the requester", L2, col + 1, row=2,
          props=stage(*WAIT, assignee="engineer"),
          doc="The question went to the requester; their reply (message 'requester_reply') "
              "ends this stage. Complete it yourself only to stop waiting.")
        n(f"reply_{stage_id}", "boundary", "Requester replied", L2, col + 1, row=2,
          attached_to=f"wait_{stage_id}", message=REPLY, variable="reply")
        n(f"ask_{stage_id}", "throw", "Send the question", L2, col + 2, row=2, message=NOTIFY,
          payload='{"template": "question", "question": question}')
    n("merge_escalate", "xgw", "", L2, 13, row=0)
    n("call_escalate_l2", "call", "Escalate from line 2", L2, 14, row=0, called="escalation")
    n("gw_l2_escalated", "xgw", "Solved by a higher line?", L2, 15, row=0)
    n("merge_resolved_l2", "xgw", "", L2, 16, row=1)
    n("merge_resolved", "xgw", "", L2, 17, row=1)
    n("gw_training", "xgw", "Training needed?", L2, 18, row=1)
    n("training", "user", "Training of the requester", L2, 19, row=0,
      props=stage(*TRAINING, assignee="engineer"),
      doc="Show the requester how to avoid the problem or use the solution.")
    n("merge_training", "xgw", "", L2, 20, row=1)
    n("notify_resolved", "throw", "Notify the requester", L2, 21, row=1, message=NOTIFY,
      payload='{"template": "resolved", "resolution": resolution}')
    n("confirm", "user", "Confirm resolution", RQ, 22, props=stage(*CONFIRM, assignee="requester"),
      doc="The requester confirms that the problem is solved, or reopens the ticket.")
    n("gw_confirmed", "xgw", "Confirmed?", RQ, 23)
    n("rate", "user", "Rate the result", RQ, 24, props=stage(*RATE, assignee="requester"),
      doc="The requester rates the result from 1 to 5.")
    n("end_closed", "end", "Ticket closed", RQ, 25)

    f = d.flow
    for a, b in (("start_received", "register"), ("register", "classify"),
                 ("classify", "compute_priority"), ("compute_priority", "assess"),
                 ("assess", "gw_solve_l1"), ("merge_resolve_l1", "resolve_l1"),
                 ("resolve_l1", "gw_l1_next"), ("call_escalate_l1", "gw_l1_escalated"),
                 ("route_line2", "assign"), ("assign", "merge_identify"),
                 ("merge_identify", "identify"), ("identify", "gw_identify_next"),
                 ("merge_resolve", "resolve"), ("resolve", "gw_resolve_next"),
                 ("merge_escalate", "call_escalate_l2"), ("call_escalate_l2", "gw_l2_escalated"),
                 ("merge_resolved_l2", "merge_resolved"), ("merge_resolved", "gw_training"),
                 ("merge_training", "notify_resolved"), ("notify_resolved", "confirm"),
                 ("confirm", "gw_confirmed"), ("training", "merge_training")):
        f(a, b)
    f("gw_solve_l1", "merge_resolve_l1", "Yes", "solve_at_line1 == True")
    f("gw_solve_l1", "route_line2", "No: route to line 2", default=True)
    f("gw_l1_next", "call_escalate_l1", "Escalate", 'next_step == "escalate"')
    f("gw_l1_next", "merge_l1_done", "Resolved", default=True)
    f("gw_l1_escalated", "merge_l1_done", "Solved", 'escalation_outcome == "solved"',
      route=("hv", "right", "bottom"))
    f("gw_l1_escalated", "merge_resolve_l1", "Returned", default=True,
      route=("via", lambda d: d.lane_bottom(L1) - 20, "bottom", "bottom"))
    f("merge_l1_done", "merge_resolved", "Resolved at line 1", route=("hv", "right", "top"))
    f("gw_identify_next", "ask_identify", "Ask the requester", 'next_step == "ask_requester"')
    f("gw_identify_next", "merge_escalate", "Escalate", 'next_step == "escalate"')
    f("gw_identify_next", "merge_resolve", "Go to resolution", default=True)
    f("gw_resolve_next", "ask_resolve", "Ask the requester", 'next_step == "ask_requester"')
    f("gw_resolve_next", "merge_escalate", "Escalate", 'next_step == "escalate"',
      route=("via", lambda d: d.row_y(L2, 1) - 65, "top", "bottom"))
    f("gw_resolve_next", "merge_resolved_l2", "Resolved", default=True)
    for stage_id in ("identify", "resolve"):
        f(f"ask_{stage_id}", f"wait_{stage_id}")
        f(f"wait_{stage_id}", f"merge_wait_{stage_id}", "Stop waiting")
        f(f"reply_{stage_id}", f"merge_wait_{stage_id}",
          route=("via", lambda d: d.row_y(L2, 2) + 75, "bottom", "bottom"))
        f(f"merge_wait_{stage_id}", f"merge_{stage_id}")
    f("gw_l2_escalated", "merge_resolved_l2", "Solved", 'escalation_outcome == "solved"',
      route=("hv", "right", "top"))
    f("gw_l2_escalated", "merge_identify", "Returned", default=True,
      route=("via", lambda d: d.lane_top(L2) + 20, "top", "top"))
    f("gw_training", "training", "Yes", "needs_training == True")
    f("gw_training", "merge_training", "No", default=True)
    f("gw_confirmed", "rate", "Confirmed", "confirmed == True")
    f("gw_confirmed", "merge_resolve_l1", "Reopen (solved at line 1)",
      "confirmed != True and solve_at_line1 == True",
      route=("via", lambda d: d.lane_top(RQ) + 20, "top", "top"))
    f("gw_confirmed", "merge_resolve", "Reopen", default=True,
      route=("via", lambda d: d.lane_top(L2) + 35, "bottom", "top"))
    f("rate", "end_closed")
    return d


def escalation():
    d = Diagram("escalation", "Escalation", [("Line 2", 1), ("Line 3", 1), ("Vendor", 1)],
                doc="Raises the support line (data field 'line', 1..4) and routes the work to "
                    "the next line's stage; loops while the work is escalated further; on "
                    "return 'line' is the caller's line again and 'escalation_outcome' says "
                    "'solved' or 'return'.")
    n = d.node
    L2, L3, V = "Line 2", "Line 3", "Vendor"
    n("start_escalation", "start", "Escalation requested", L3, 0)
    n("remember_line", "script", "Remember the escalating line", L3, 1,
      script="escalated_from = line\n")
    n("merge_raise", "xgw", "", L3, 2)
    n("raise_line", "script", "Raise the support line", L3, 3, script="line = min(line + 1, 4)\n")
    n("gw_line", "xgw", "Which line?", L3, 4)
    n("work_line2", "user", "Work at line 2", L2, 5, props=stage(*WORK_L2),
      doc="Line 2 works the escalated ticket: solve it, escalate it further or return it.")
    n("work_line3", "user", "Work at line 3", L3, 5, props=stage(*WORK_L3),
      doc="Line 3 works the escalated ticket: solve it, escalate it to the vendor or return it.")
    n("work_vendor", "user", "Work at line 4 (vendor)", V, 5, props=stage(*WORK_VENDOR),
      doc="The vendor (line 4) works the ticket: record the vendor's case, solve or return it.")
    n("merge_work", "xgw", "", L3, 6)
    n("gw_outcome", "xgw", "Outcome?", L3, 7)
    n("hand_back", "script", "Hand back to the escalating line", L3, 8,
      script='solved_by_line = line if escalation_outcome == "solved" else None\n'
             "line = escalated_from\n")
    n("end_escalation", "end", "Back to the caller", L3, 9)
    f = d.flow
    for a, b in (("start_escalation", "remember_line"), ("remember_line", "merge_raise"),
                 ("merge_raise", "raise_line"), ("raise_line", "gw_line"),
                 ("work_line2", "merge_work"), ("work_line3", "merge_work"),
                 ("work_vendor", "merge_work"), ("merge_work", "gw_outcome"),
                 ("hand_back", "end_escalation")):
        f(a, b)
    f("gw_line", "work_line2", "Line 2", "line == 2")
    f("gw_line", "work_line3", "Line 3", "line == 3")
    f("gw_line", "work_vendor", "Vendor (line 4)", default=True)
    f("gw_outcome", "merge_raise", "Escalate further",
      'escalation_outcome == "escalate" and line < 4',
      route=("via", lambda d: d.lane_bottom(L3) - 20, "bottom", "bottom"))
    f("gw_outcome", "hand_back", "Solved or returned", default=True)
    return d


def approval():
    d = Diagram("approval", "Approval", [("Approvers", 1)],
                doc="A manager approves or rejects; returns 'approved' and 'approval_comment'. "
                    "The caller may set 'approver' (a login) to pick the manager.")
    d.node("start_approval", "start", "Approval requested", "Approvers", 0)
    d.node("approve", "user", "Manager approval", "Approvers", 1,
           props=stage(*APPROVE, assignee="approver"),
           doc="Approve or reject the request, with a comment.")
    d.node("end_approval", "end", "Decision made", "Approvers", 2)
    d.flow("start_approval", "approve")
    d.flow("approve", "end_approval")
    return d


def service_request():
    RQ, L1, AP, L2 = "Requester", "Line 1", "Approvers", "Line 2"
    d = Diagram("service_request", "Service request",
                [(RQ, 1), (L1, 1), (AP, 1), (L2, 1)],
                doc="A catalogue request: registration, fulfilment planning, manager approval "
                    "(the 'approval' process), fulfilment at line 2, confirmation.")
    n = d.node
    n("start_request", "start", "Request received", L1, 0)
    n("register", "user", "Registration", L1, 1, props=stage(*REGISTER),
      doc="Check and complete the request as the requester filed it.")
    n("plan", "user", "Fulfilment planning", L1, 2, props=stage(*PLAN),
      doc="Plan how the request will be fulfilled and pick the approving manager.")
    n("call_approval", "call", "Approval", AP, 3, called="approval")
    n("gw_approved", "xgw", "Approved?", AP, 4)
    n("notify_rejected", "throw", "Notify the requester", AP, 5, message=NOTIFY,
      payload='{"template": "rejected", "approval_comment": approval_comment}')
    n("end_rejected", "end", "Request rejected", AP, 6)
    n("merge_fulfil", "xgw", "", L2, 5)
    n("fulfil", "user", "Fulfilment", L2, 6, props=stage(*FULFIL),
      doc="Fulfil the request as planned and describe what was done.")
    n("notify_fulfilled", "throw", "Notify the requester", L2, 7, message=NOTIFY,
      payload='{"template": "fulfilled", "fulfilment_notes": fulfilment_notes}')
    n("confirm", "user", "Confirm fulfilment", RQ, 8,
      props=stage(*CONFIRM_FULFILMENT, assignee="requester"),
      doc="The requester confirms that the request is fulfilled, or reopens it.")
    n("gw_confirmed", "xgw", "Confirmed?", RQ, 9)
    n("end_done", "end", "Request closed", RQ, 10)
    f = d.flow
    for a, b in (("start_request", "register"), ("register", "plan"), ("plan", "call_approval"),
                 ("call_approval", "gw_approved"), ("notify_rejected", "end_rejected"),
                 ("merge_fulfil", "fulfil"), ("fulfil", "notify_fulfilled"),
                 ("notify_fulfilled", "confirm"), ("confirm", "gw_confirmed")):
        f(a, b)
    f("gw_approved", "merge_fulfil", "Approved", "approved == True")
    f("gw_approved", "notify_rejected", "Rejected", default=True)
    f("gw_confirmed", "end_done", "Confirmed", "confirmed == True")
    f("gw_confirmed", "merge_fulfil", "Reopen", default=True,
      route=("via", lambda d: d.lane_bottom(L2) - 20, "bottom", "bottom"))
    return d


def subtask():
    L2 = "Line 2"
    d = Diagram("subtask", "Subtask", [(L2, 1)],
                doc="A child ticket: 'assignee' does the work; if 'review_required', the parent "
                    "ticket's owner ('owner') reviews it and may send it back.")
    n = d.node
    n("start_subtask", "start", "Subtask created", L2, 0)
    n("merge_work", "xgw", "", L2, 1)
    n("work", "user", "Do the work", L2, 2, props=stage(*SUBTASK_WORK, assignee="assignee"),
      doc="Do the work the parent ticket's owner asked for and report the result.")
    n("gw_review", "xgw", "Review required?", L2, 3)
    n("review", "user", "Review by the owner", L2, 4, props=stage(*SUBTASK_REVIEW, assignee="owner"),
      doc="The parent ticket's owner accepts the result or sends it back.")
    n("gw_accepted", "xgw", "Accepted?", L2, 5)
    n("merge_done", "xgw", "", L2, 6)
    n("end_subtask", "end", "Subtask done", L2, 7)
    f = d.flow
    for a, b in (("start_subtask", "merge_work"), ("merge_work", "work"), ("work", "gw_review"),
                 ("review", "gw_accepted"), ("merge_done", "end_subtask")):
        f(a, b)
    f("gw_review", "review", "Yes", "review_required == True")
    f("gw_review", "merge_done", "No", default=True,
      route=("via", lambda d: d.lane_bottom(L2) - 20, "bottom", "bottom"))
    f("gw_accepted", "merge_done", "Accepted", "accepted == True")
    f("gw_accepted", "merge_work", "Rework", default=True,
      route=("via", lambda d: d.lane_top(L2) + 20, "top", "top"))
    return d


DIAGRAMS = {"incident": incident, "escalation": escalation, "approval": approval,
            "service_request": service_request, "subtask": subtask}


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2] / "bpmn"
    out.mkdir(parents=True, exist_ok=True)
    for name, build in DIAGRAMS.items():
        (out / f"{name}.bpmn").write_bytes(build().to_xml())
        print(f"wrote {out / name}.bpmn")


if __name__ == "__main__":
    main(sys.argv)

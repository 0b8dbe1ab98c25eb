"""Serialization of specs and instance state.

Specs are immutable once deployed, so they are serialized once (``specs_to_dict``), stored
once keyed by their sha256 (``spec_digest``) and kept deserialized in a process-wide cache;
an instance's stored state holds only its runtime part (see ``workflows.runner``).
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

#: bumped whenever the layout of our stored state changes (see ``workflows.runner``)
STATE_FORMAT = 1

_REGISTRY = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
SERIALIZER = BpmnWorkflowSerializer(_REGISTRY)


def specs_to_dict(spec, subprocess_specs: dict) -> dict[str, Any]:
    """A JSON-ready dict of a top-level process spec and the specs it calls."""
    return {
        "spec": SERIALIZER.to_dict(spec),
        "subprocess_specs": {name: SERIALIZER.to_dict(s) for name, s in sorted(subprocess_specs.items())},
    }


def spec_digest(spec_dict: dict[str, Any]) -> str:
    """sha256 of the canonical JSON form of ``specs_to_dict``'s result."""
    canonical = json.dumps(spec_dict, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class SpecCache:
    """A small thread-safe LRU of deserialized ``(spec, subprocess_specs)`` by digest."""

    def __init__(self, size: int = 256):
        self._size = size
        self._items: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, spec_dict: dict[str, Any] | None = None):
        with self._lock:
            hit = self._items.get(digest)
            if hit is not None:
                self._items.move_to_end(digest)
                return hit
        if spec_dict is None:
            raise KeyError(digest)
        spec = SERIALIZER.from_dict(json.loads(json.dumps(spec_dict["spec"])))
        subs = {name: SERIALIZER.from_dict(json.loads(json.dumps(s)))
                for name, s in spec_dict.get("subprocess_specs", {}).items()}
        with self._lock:
            self._items[digest] = (spec, subs)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return spec, subs


SPEC_CACHE = SpecCache()

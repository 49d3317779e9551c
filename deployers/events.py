"""Progress events: what a long apply tells the user while it runs.

A sink is any callable taking an Event. The API fans events out to the
ledger and to the caller's sink (CLI prints them, the UI polls the ledger).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

LEVELS = ("debug", "info", "step", "progress", "warning", "error", "done")


@dataclass
class Event:
    kind: str  # one of LEVELS
    message: str
    deployment: str = ""
    run_id: str = ""
    ts: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


EventSink = Callable[[Event], None]


def null_sink(_event: Event) -> None:
    return None


class EventRecorder:
    """A sink that keeps events in memory (tests, the UI's background runs)."""

    def __init__(self, forward: Optional[EventSink] = None):
        self.events: list[Event] = []
        self.forward = forward

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if self.forward:
            self.forward(event)

"""The grader's link to a notebook, without a sandbox or a kernel: requests go straight to an
:class:`~course_utils.grading.agent.answers.Answers` object over a namespace, through JSON
both ways, and its callbacks come back the same way (tests of judging only)."""

from __future__ import annotations

import json

from course_utils.grading.agent.answers import Answers


def _json(message):
    return json.loads(json.dumps(message))


class InProcessLink:
    """Stands for the sandbox: what :class:`course_utils.grading.sandbox.AgentLink` offers."""

    def __init__(self, namespace: dict):
        self.answers = Answers(namespace)
        self.seen: list = []

    def request(self, op, timeout, on_callback=None, **fields):
        self.seen.append((op, fields))
        previous = self.answers.ask
        self.answers.ask = lambda message: _json(on_callback(_json(message)))
        try:
            return json.loads(self.answers.handle(json.dumps({"op": op, "timeout": timeout, **fields})))
        finally:
            self.answers.ask = previous

    def busy(self):
        return False

    def send(self, message):
        pass

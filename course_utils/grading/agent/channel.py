"""The one message channel of grading (book/grading.md): JSON lines between the grader and its
agent in the sandbox, both ways. One message a line, each a JSON object; a line that is not
JSON is skipped; a line longer than the limit ends the conversation (a broken or hostile
peer), as does the end of the stream. Sends from several threads never interleave."""

from __future__ import annotations

import json
import threading

MAX_LINE = 64 * 2**20  # bytes of one message


class Channel:
    """Messages over a binary ``reader`` (``readline``) and ``writer`` (``write``, ``flush``)."""

    def __init__(self, reader, writer, max_line: int = MAX_LINE):
        self.reader, self.writer, self.max_line = reader, writer, max_line
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        """Write one message; OSError or ValueError when the other side has gone."""
        data = json.dumps(message).encode() + b"\n"
        with self._lock:
            self.writer.write(data)
            self.writer.flush()

    def receive(self):
        """The messages that arrive, in order, until the stream ends or a line is too long."""
        while True:
            line = self.reader.readline(self.max_line)
            if not line or not line.endswith(b"\n"):
                return
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                yield message

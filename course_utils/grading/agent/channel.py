"""The one message channel of grading (book/grading.md): JSON lines between the grader and its
agent in the sandbox, both ways. One message a line, each a JSON object. The end of the
stream, a line longer than the limit, or a line that cannot be decoded in any way (not JSON,
not an object, nested too deeply, not UTF-8) ends the conversation, and :attr:`Channel.why`
says why: a broken or hostile peer gets no second chance. Sends from several threads never
interleave."""

from __future__ import annotations

import json
import threading

MAX_LINE = 256 * 2**20  # bytes of one message


class Channel:
    """Messages over a binary ``reader`` (``readline``) and ``writer`` (``write``, ``flush``)."""

    def __init__(self, reader, writer, max_line: int = MAX_LINE):
        self.reader, self.writer, self.max_line = reader, writer, max_line
        self.why = ""  # why the conversation ended, when it did
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        """Write one message; OSError or ValueError when the other side has gone."""
        data = json.dumps(message).encode() + b"\n"
        with self._lock:
            self.writer.write(data)
            self.writer.flush()

    def receive(self):
        """The messages that arrive, in order, until the conversation ends (see :attr:`why`)."""
        while True:
            try:
                line = self.reader.readline(self.max_line)
            except (OSError, ValueError) as err:
                self.why = f"the stream broke ({type(err).__name__})"
                return
            if not line:
                self.why = "the stream ended"
                return
            if not line.endswith(b"\n"):
                self.why = f"a message longer than {self.max_line} bytes" if len(line) >= self.max_line \
                    else "the stream ended inside a message"
                return
            try:
                message = json.loads(line)
            except Exception as err:  # any decoding failure: ValueError, RecursionError, MemoryError...
                self.why = f"an unreadable message ({type(err).__name__})"
                return
            if not isinstance(message, dict):
                self.why = f"a message that is not a JSON object (a {type(message).__name__})"
                return
            yield message

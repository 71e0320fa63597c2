"""Reads one large JSON document piece by piece, in bounded memory (no ijson here).

``JsonStream`` walks the structure the caller expects (``expect('{')``, ``key()``, ``value()``)
over a text file read in chunks, so a Telegram Desktop export of a million messages is parsed
one message at a time: ``value()`` decodes the next whole value with the C decoder
(``json.JSONDecoder.raw_decode``), reading more of the file when the value runs past what is
buffered. Errors carry the line and column in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, TextIO

CHUNK = 1 << 20
MAX_VALUE = 64 << 20  # one message larger than this is not a Telegram export
_WHITESPACE = " \t\n\r"
_NUMBER_TAIL = re.compile(r"[0-9.eE+\-]*")


class JsonSyntaxError(ValueError):
    """Bad JSON (or not the structure expected) at a line and column of the file."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line} column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


class JsonStream:
    """A cursor over one JSON document; only the unread rest of the current value is held."""

    def __init__(self, fh: TextIO, chunk: int = CHUNK) -> None:
        self._fh = fh
        self._chunk = chunk
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line0 = 1  # line and column of _buf[0] in the file
        self._col0 = 1
        self._decoder = json.JSONDecoder()
        self._start = 0  # where the value last read began in _buf

    # ------------------------------------------------------------------ buffer
    def _fill(self) -> bool:
        """Drop what was read, append the next chunk; False at the end of the file."""
        if self._eof:
            return False
        done = self._buf[:self._pos]
        newlines = done.count("\n")
        if newlines:
            self._line0 += newlines
            self._col0 = len(done) - done.rfind("\n")
        else:
            self._col0 += len(done)
        data = self._fh.read(self._chunk)
        self._buf = self._buf[self._pos:] + data
        self._pos = 0
        if not data:
            self._eof = True
        return bool(data)

    def where(self, pos: int | None = None) -> tuple[int, int]:
        """(line, column), 1-based, of a buffer position (default: the cursor)."""
        pos = self._pos if pos is None else pos
        newlines = self._buf.count("\n", 0, pos)
        if newlines:
            return self._line0 + newlines, pos - self._buf.rfind("\n", 0, pos)
        return self._line0, self._col0 + pos

    def error(self, message: str, pos: int | None = None) -> JsonSyntaxError:
        """A syntax error at the cursor (or at ``pos``)."""
        line, column = self.where(pos)
        return JsonSyntaxError(message, line, column)

    def value_error(self, message: str) -> JsonSyntaxError:
        """An error about the value just read, at its first character."""
        return self.error(message, self._start)

    # ------------------------------------------------------------------ reading
    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the file)."""
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._fill():
                return ""

    def expect(self, chars: str) -> str:
        """Consume the next character, which must be one of ``chars``; return it."""
        found = self.peek()
        if not found or found not in chars:
            wanted = " or ".join(repr(c) for c in chars)
            got = repr(found) if found else "the end of the file"
            raise self.error(f"expected {wanted}, found {got}")
        self._pos += 1
        return found

    def value(self) -> Any:
        """Decode the next whole JSON value."""
        if not self.peek():
            raise self.error("unexpected end of the file")
        while True:
            # a refill drops what lies before the cursor: the value then starts the buffer
            self._start = self._pos
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # cut off by the end of the buffer (a string, number or object that goes on
                # in the next chunk): read more and decode again; anything else is an error
                cut = exc.pos >= len(self._buf) - 8 or exc.msg.startswith("Unterminated")
                if cut and len(self._buf) - self._pos < MAX_VALUE and self._fill():
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if (isinstance(value, int | float) and _NUMBER_TAIL.fullmatch(self._buf, end)
                    and self._fill()):
                continue  # a number at the end of the buffer may go on ("12" of "12.5")
            self._pos = end
            return value

    def key(self) -> str:
        """An object key and its colon."""
        name = self.value() if self.peek() == '"' else None
        if not isinstance(name, str):
            raise self.error("expected an object key in double quotes")
        self.expect(":")
        return name

    def items(self) -> Iterator[None]:
        """After ``expect('[')``: yield once per element, the cursor at the element."""
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield
            if self.expect(",]") == "]":
                return

    def keys(self) -> Iterator[str]:
        """After ``expect('{')``: yield each key, the cursor at its value."""
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            yield self.key()
            if self.expect(",}") == "}":
                return

    def end(self) -> None:
        """Nothing but whitespace may follow the document."""
        if self.peek():
            raise self.error("extra data after the JSON document")

"""Limits on what a user hands in, checked before any parser or loop can be made to run away.

Python's TOML parser has no limits: nesting a few hundred deep raises RecursionError, and its memory grows
with the square of a dotted key's length (a 200 KB file of one long key passed 20 GB here). So a file is
checked before it is parsed: its size, how deep its arrays and tables nest, and how long its keys are, by a
small scanner that knows TOML's strings and comments. Names that reach paths (scenario, variant, sweep,
episode) are labels: `plain_name` makes one safe for a directory name, one rule for all of them.
"""

from __future__ import annotations

import re
import unicodedata

MAX_FILE_BYTES = 4_000_000  # a real valley is a few KB; a scenario with a thousand places about 300 KB
MAX_DEPTH = 32  # arrays and inline tables inside each other (the scenario schema needs 4)
MAX_KEY_CHARS = 512  # a key, dotted or not, before its '=' or inside [table] brackets
MAX_EXTENDS = 16  # files a scenario may extend in a chain
MAX_NAME_CHARS = 80  # a name as part of a directory name


def scan(text: str) -> tuple[str, str] | None:
    """The first limit `text` breaks, as (what, detail), or None. Linear in the text, no recursion."""
    open_brackets: list[str] = []  # the '[' and '{' not yet closed: their count is the nesting depth
    key_chars = 0  # characters of the key being read (at the start of a line, before '=')
    in_key = True  # at a line's start we read a key (or a [table] header) until '='
    header = False
    i, n = 0, len(text)
    line = 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if not open_brackets:
                in_key, key_chars, header = True, 0, False
            i += 1
            continue
        if c == "#":  # a comment runs to the end of the line
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'":
            triple = text.startswith(c * 3, i)
            end = c * 3 if triple else c
            j = i + len(end)
            while True:  # find the closing quote (basic strings have escapes; literal strings do not)
                k = text.find(end, j)
                if k < 0:
                    return None  # unterminated: the parser says so, in its own words
                if c == '"' and _escaped(text, k):
                    j = k + 1
                    continue
                break
            length = k + len(end) - i
            if in_key:
                key_chars += length
                if key_chars > MAX_KEY_CHARS:
                    return "key length", f"a key on line {line} is longer than {MAX_KEY_CHARS} characters"
            line += text.count("\n", i, k)
            i = k + len(end)
            continue
        if in_key:
            if c == "=":
                in_key = False
            elif c == "[" and key_chars == 0 and not open_brackets and not header:
                header = True  # a [table] or [[array]] header: its name is a key
            elif c == "]" and header:
                pass
            elif c not in " \t\r":
                key_chars += 1
                if key_chars > MAX_KEY_CHARS:
                    return "key length", f"a key on line {line} is longer than {MAX_KEY_CHARS} characters"
            i += 1
            continue
        if c in "[{":
            open_brackets.append(c)
            if len(open_brackets) > MAX_DEPTH:
                return "nesting", f"arrays and tables nest more than {MAX_DEPTH} deep (line {line})"
            if c == "{":
                in_key, key_chars = True, 0  # an inline table: keys again
        elif c in "]}":
            if open_brackets:
                open_brackets.pop()
        elif c == "," and open_brackets and open_brackets[-1] == "{":  # the next key of an inline table
            in_key, key_chars = True, 0
        i += 1
    return None


def _escaped(text: str, k: int) -> bool:
    """Is the quote at k escaped by an odd number of backslashes?"""
    slashes = 0
    while k - 1 - slashes >= 0 and text[k - 1 - slashes] == "\\":
        slashes += 1
    return slashes % 2 == 1


_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-]+")


def control_characters(text: str) -> bool:
    """Does the text hold a control character (terminal escapes, NUL, newlines)?"""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def printable(text: object) -> str:
    """Text as it may reach a terminal: control characters shown escaped (\\x1b, \\n), never raw."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" else ch
                   for ch in str(text))


def plain_name(name: str, fallback: str = "scenario") -> str:
    """A label as a safe directory name: letters, digits and . _ + - only (anything else becomes '-'), no
    leading dot, at most MAX_NAME_CHARS; never a path ("/abs", "../x" and "a/b" become "abs", "x", "a-b")."""
    text = _UNSAFE.sub("-", unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode())
    text = text.strip("-.")[:MAX_NAME_CHARS].strip("-.")
    return text or fallback

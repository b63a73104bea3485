"""Log formatters that mask personal data in every finished line (tracebacks included): a second
guard behind the rule that no code logs an ID number or a phone. Without Django or Celery imports,
so gunicorn's master process can use them too (deploy/gunicorn.conf.py)."""

import logging
import re

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# An 18-character ID number (17 digits and a check digit or X) or an 11-digit mobile number,
# standing alone (not inside a longer number such as a card number).
_PII = re.compile(r"(?<![0-9])(?:[1-9][0-9]{5}(?:18|19|20)[0-9]{9}[0-9Xx]|1[3-9][0-9]{9})(?![0-9Xx])")
MASK = "[已遮蔽]"


def scrub(text: str) -> str:
    """`text` with every ID-number-like and phone-like run of digits replaced by a mask."""
    return _PII.sub(MASK, text)


class JsonFormatter(_JsonFormatter):
    """A log record as one JSON line: time, level, logger, message, request_id (and any extra)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class TextFormatter(logging.Formatter):
    """The same, as a plain line for a developer's terminal (LOG_FORMAT=text)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))

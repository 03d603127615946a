"""Keep chat content out of the logs of python-telegram-bot.

At DEBUG, PTB logs every Bot API call with its parameters and result and every update
it processes: residents' messages, ID numbers typed into a declaration, the number an
officer asked to see. Those records are dropped at their source logger, so no handler
(including a test's log capture) ever receives them; PTB's other records pass.
"""

from __future__ import annotations

import logging

LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application",
           "telegram.ext.Updater")
PAYLOAD_MARKERS = ("Bot API endpoint", "Processing update", "Updates received",
                   "Dropping pending update")


class DropPayloads(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        return not any(marker in template for marker in PAYLOAD_MARKERS)


_FILTER = DropPayloads()


def quiet_payload_logs() -> None:
    """Install the filter once on PTB's loggers (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

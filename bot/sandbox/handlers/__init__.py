"""How the fake Telegram answers each scripted RPC request, on top of the World's state.

``registry`` holds the one table of handlers and ``answer``; one module per feature registers
its handlers there with ``@serves``: ``auth`` (config, bot and user sign-in), ``updates``
(state and differences), ``peers`` (users, usernames, joining channels), ``history`` (history,
messages, dialogs), ``sending`` (send and edit), ``media`` (uploads, media sends), ``groups``
(chats and participants) and ``bots`` (commands, typing, callback answers). Importing this
package imports them all, so ``answer`` knows every handler.
"""

# Imported for their @serves registrations.
from bot.sandbox.handlers import (  # noqa: F401
    auth,
    bots,
    groups,
    history,
    media,
    peers,
    sending,
    updates,
)
from bot.sandbox.handlers.registry import Handler, Result, answer

__all__ = ["Handler", "Result", "answer"]

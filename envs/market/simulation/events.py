"""LOBSTER's message types, shared by the book (which logs its events in LOBSTER's convention)
and the LOBSTER readers, so no code compares a message type with a bare integer."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["BOOK_CHANGES", "EXECUTIONS", "EventType"]


class EventType(IntEnum):
    """Column 2 of a LOBSTER message file (LOBSTER's documentation, "Message file")."""

    SUBMISSION = 1  #: a new limit order
    CANCELLATION = 2  #: a partial cancellation
    DELETION = 3  #: the rest of an order deleted
    EXECUTION_VISIBLE = 4  #: an execution against a visible order
    EXECUTION_HIDDEN = 5  #: an execution against a hidden order
    CROSS_TRADE = 6  #: an auction (cross) trade
    TRADING_HALT = 7  #: a trading halt, resumption or quote-only indicator


#: executions of every kind (a trade happened)
EXECUTIONS = (EventType.EXECUTION_VISIBLE, EventType.EXECUTION_HIDDEN, EventType.CROSS_TRADE)
#: the types that change the visible book
BOOK_CHANGES = (EventType.SUBMISSION, EventType.CANCELLATION, EventType.DELETION, EventType.EXECUTION_VISIBLE)

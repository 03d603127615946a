"""Send pacing per bot: a global rate, a per-chat rate and a per-group rate.

The platform's limits are per bot, so every send (direct replies and the delivery
dispatcher alike) goes through the one :class:`Pacer` of its channel. Pacing keeps us
under the limits so 429s stay rare instead of being the pacing signal.

Sends are spaced evenly rather than let out in bursts: Telegram counts messages in a
sliding window, so a bucket that bursts its capacity and then drips at the rate puts up
to twice the limit into one window (measured: 52 answers 429 in 600 messages at 30/s).
Each caller reserves the next free slot (the "theoretical arrival time" of GCRA), so
waiters never race; the global interval carries a small margin for event-loop lateness
and network jitter. Every chat gets the per-chat rate (a private chat after a burst of
three), a group also a true sliding window of 20 per minute. After a 429, ``pause`` voids
the slots of the sends already waiting: they fail with ``RETRY_AFTER`` instead of adding
to the flood (the delivery dispatcher then holds the channel, by its own clock, until the
wait is over).

Two lanes share the global rate. Replies to someone who is chatting right now take the
next free slot. Background sends (notifications, broadcasts: the delivery dispatcher)
book at most ``BACKGROUND_AHEAD`` seconds ahead, one at a time: without that, a
dispatcher with dozens of sends in flight books seconds of slots, and every reply waits
behind them (measured: resident replies p50 6.6 s while tips were notified at 30/s).

The limits are per bot, the pacer per process: with several delivery workers each paces
at its share of the global rate (``set_rate``, kept by :mod:`bot.workers`), and each chat
is sent to by one worker only, so the per-chat and per-group pacing stays exact.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from bot.channels.base import Failure, SendError

MARGIN = 0.03  # intervals are 3 % longer than 1/rate: ≥ 0.97 × the limit, jitter absorbed
PRIVATE_BURST = 3  # Telegram tolerates short bursts in a private chat (a reply of 2–3)
GROUP_SPAN = 61.0  # 20 per minute, with a second to spare for jitter
# A 429 means the platform saw our sends bunched more than the margin allows (its clock,
# its queueing): each one slows the global pace by 5 % more (at most 25 %), and the
# slowdown halves every 30 s without another, back to the plain margin.
SLOW_STEP, SLOW_MAX, SLOW_HALF_LIFE = 0.05, 0.25, 30.0
BACKGROUND_AHEAD = 0.25  # seconds of global slots background sends may book in advance


class Pacer:
    def __init__(self, per_second: float, per_chat_per_second: float = 1.0,
                 group_per_minute: float = 20.0, max_chats: int = 20_000, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.set_rate(per_second)
        self._chat_interval = (1.0 + MARGIN) / per_chat_per_second
        self._group_count = max(1, math.floor(group_per_minute))
        self._tat = 0.0  # next free global slot
        self._paused_until = 0.0
        self._generation = 0  # bumped by pause(): reserved slots before it are void
        self._slow, self._slow_since = 0.0, 0.0  # extra spacing after 429s, and since when
        self._chats: OrderedDict[str, float] = OrderedDict()  # private chat → next slot
        self._groups: dict[str, deque[float]] = {}  # group → reserved send times
        self._max_chats = max_chats
        self._clock = clock
        self._background = asyncio.Lock()  # one background send books at a time, FIFO

    # --- slots (synchronous, so a reservation is atomic under asyncio) ------------------
    def _chat_slot(self, chat_id: str, is_group: bool, now: float, take: bool) -> float:
        burst = 1 if is_group else PRIVATE_BURST
        tat = max(self._chats.get(chat_id, now), now)
        slot = max(now, tat - (burst - 1) * self._chat_interval)
        if is_group:
            stamps = self._groups.setdefault(chat_id, deque())
            while stamps and stamps[0] <= now - GROUP_SPAN:
                stamps.popleft()
            if len(stamps) >= self._group_count:
                slot = max(slot, stamps[-self._group_count] + GROUP_SPAN)
            if take:
                stamps.append(slot)
        if take:
            self._chats[chat_id] = max(tat, slot) + self._chat_interval
            self._chats.move_to_end(chat_id)
            if len(self._chats) > self._max_chats:
                self._chats.popitem(last=False)
        return slot

    def _global_slot(self, now: float) -> float:
        tat = max(self._tat, now)
        slot = max(now, tat - self._tolerance)
        self._tat = tat + self._interval * (1.0 + self._slowdown(now))
        return slot

    def _slowdown(self, now: float) -> float:
        if not self._slow:
            return 0.0
        return self._slow * 0.5 ** ((now - self._slow_since) / SLOW_HALF_LIFE)

    # --- public -------------------------------------------------------------------------
    def chat_delay(self, chat_id: str, is_group: bool = False) -> float:
        """Seconds before ``chat_id`` could take another message (nothing is reserved)."""
        now = self._clock()
        return self._chat_slot(chat_id, is_group, now, take=False) - now

    def set_rate(self, per_second: float) -> None:
        """Pace the global rate at ``per_second`` from the next reserved slot on."""
        self.per_second = per_second
        self._interval = (1.0 + MARGIN) / per_second
        # At high rates a few sends may leave together (timer granularity is ~1 ms).
        self._tolerance = max(0.0, math.floor(per_second * 0.01) - 1) * self._interval

    def pause(self, seconds: float) -> None:
        """The platform answered 429 ``retry_after``: sends waiting now must not go, and
        the global pace slows down a little for a while."""
        now = self._clock()
        self._paused_until = max(self._paused_until, now + seconds)
        self._generation += 1
        self._slow, self._slow_since = min(SLOW_MAX, self._slowdown(now) + SLOW_STEP), now

    async def wait(self, chat_id: str, is_group: bool = False, *,
                   background: bool = False) -> None:
        """Wait until a message to ``chat_id`` fits under every limit; ``background``
        sends let replies to people chatting now go first.

        Raises:
            SendError: ``RETRY_AFTER`` when a 429 paused the bot while this send waited.
        """
        generation = self._generation
        slot = self._chat_slot(chat_id, is_group, self._clock(), take=True)
        await _sleep_until(self._clock, slot)
        if background and self._tat - self._clock() > BACKGROUND_AHEAD:
            async with self._background:
                # A clock, not an event: replies booked meanwhile push the time out again.
                while (ahead := self._tat - self._clock()) > BACKGROUND_AHEAD:  # noqa: ASYNC110
                    await asyncio.sleep(ahead - BACKGROUND_AHEAD)
                slot = self._global_slot(self._clock())
        else:
            slot = self._global_slot(self._clock())
        await _sleep_until(self._clock, slot)
        left = self._paused_until - self._clock()
        if generation != self._generation and left > 0:
            raise SendError(Failure.RETRY_AFTER, "held back: flood wait", retry_after=left)


async def _sleep_until(clock: Callable[[], float], at: float) -> None:
    delay = at - clock()
    if delay > 0:
        await asyncio.sleep(delay)

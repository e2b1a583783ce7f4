"""The approval webhook: a JSON POST when a tool call waits for a person.

The body is what Slack-style incoming webhooks accept (`text`, Markdown-ish) plus structured fields
for other receivers (`approval`: the pending approval's JSON, `url`: where to decide). Sending never
delays the held call: each POST is a background task, tracked so that shutdown waits for (at most
`CLOSE_TIMEOUT_S`) and cancels what is left; a failure or non-2xx answer is logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from luthien.approvals.model import PendingApproval

logger = logging.getLogger("luthien.approvals")

POST_TIMEOUT_S = 10.0
"""Longest one webhook POST may take."""
CLOSE_TIMEOUT_S = 5.0
"""How long shutdown waits for webhook POSTs in flight."""
ARGUMENTS_PREVIEW_CHARS = 500
"""Characters of the tool call's arguments in the message text."""
HTTP_OK_MAX = 299


def webhook_body(approval: PendingApproval, ui_url: str | None) -> dict[str, Any]:
    """The POST body: `text` for chat webhooks, `approval` and `url` for everything else."""
    arguments = approval.arguments
    if len(arguments) > ARGUMENTS_PREVIEW_CHARS:
        arguments = arguments[:ARGUMENTS_PREVIEW_CHARS] + " …"
    lines = [f"Luthien: tool call `{approval.tool}` waits for approval ({approval.id})", f"```{arguments}```"]
    if approval.verdict is not None:
        lines.append(f"Judge: {approval.verdict.probability:.2f} — {approval.verdict.explanation}")
    if ui_url is not None:
        lines.append(f"Decide: {ui_url}")
    return {"text": "\n".join(lines), "approval": approval.to_json(), "url": ui_url}


class WebhookSender:
    """Fire-and-forget webhook POSTs, tracked.

    Attributes:
        sent: POSTs answered with 2xx.
        failed: POSTs that failed or got another status.
    """

    def __init__(self, close_timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        self._close_timeout_s = close_timeout_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failed = 0

    def notify(self, url: str, approval: PendingApproval, ui_url: str | None) -> None:
        """Start the POST in the background; returns at once."""
        task = asyncio.get_running_loop().create_task(self._post(url, webhook_body(approval, ui_url)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT_S))
        try:
            async with self._session.post(url, json=body) as response:
                if response.status > HTTP_OK_MAX:
                    self.failed += 1
                    logger.warning("approval webhook %s answered %s", url, response.status)
                    return
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self.failed += 1
            logger.warning("approval webhook %s failed: %s", url, error)
            return
        self.sent += 1

    async def close(self) -> None:
        """Wait for POSTs in flight (bounded), cancel the rest, close the connection pool."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=self._close_timeout_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._session is not None:
            await self._session.close()

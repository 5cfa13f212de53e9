"""``POST /v1/responses/input_tokens``'s answer, as OpenAI's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class InputTokens(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: Literal["response.input_tokens"] = "response.input_tokens"
    input_tokens: int

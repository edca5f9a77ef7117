"""The LLM request engine: cache, ledger, shared rate limits, retries and Batch API mode (see engine.py)."""

from svit_assets.llm.engine import LLMEngine
from svit_assets.llm.types import BudgetExceeded, ChatRequest, ChatResult, LLMFailure, LLMSettings

__all__ = ["BudgetExceeded", "ChatRequest", "ChatResult", "LLMEngine", "LLMFailure", "LLMSettings"]

"""Dollar cost of tokens, so the ledger and the budget speak money rather than tokens.

Prices are $ per 1M tokens (input, output). A dated model name ("gpt-4o-mini-2024-07-18") takes the price
of its longest listed prefix; an unlisted model (a local llama.cpp/vLLM/Ollama server) costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

Prices = Mapping[str, tuple[float, float]]

# Standard (non-batch) list prices; override or extend with LLMSettings.prices or SVIT_LLM_PRICES.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o4-mini": (1.10, 4.40),
}


def price_for(prices: Prices, model: str) -> tuple[float, float]:
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name + "-")]
    return prices[max(matches, key=len)] if matches else (0.0, 0.0)


def cost_usd(
    prices: Prices, model: str, prompt_tokens: int, completion_tokens: int, discount: float = 1.0
) -> float:
    price_in, price_out = price_for(prices, model)
    return (prompt_tokens * price_in + completion_tokens * price_out) * discount / 1_000_000

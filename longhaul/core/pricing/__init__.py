"""Pricing: token prices from genai-prices (pinned, offline) and Longhaul's dated tool-fee table."""

from longhaul.core.pricing.book import PriceBook, PriceTableError, get_price_book, load_price_book
from longhaul.core.pricing.engine import PricedResponse, price_response
from longhaul.core.pricing.lines import PricedLine, usd

__all__ = [
    "PriceBook",
    "PriceTableError",
    "PricedLine",
    "PricedResponse",
    "get_price_book",
    "load_price_book",
    "price_response",
    "usd",
]

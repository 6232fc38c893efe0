"""Cost rules: every region that holds the registry (home included) is billed at the SKU's daily price."""
from decimal import Decimal

DAYS_PER_MONTH = 30


def monthly_cost(price_per_day: Decimal, region_count: int) -> Decimal:
    return (Decimal(price_per_day) * DAYS_PER_MONTH * region_count).quantize(Decimal("0.01"))

"""The replenishment policy as plain arithmetic, and a simulation comparing it with a fixed rule.

The services apply `policy_levels` to demand read from the stock ledger; the simulation
applies it to made-up demand, so the same formula is what the comparison measures.
"""

import math
import random
from dataclasses import dataclass
from statistics import NormalDist, pstdev

# Demand is read from this many days of history, today included.
DEMAND_WINDOW_DAYS = 28
# The share of replenishment cycles that should end without a stockout.
SERVICE_LEVEL = 0.95


@dataclass(frozen=True)
class PolicyLevels:
    mean: float
    spread: float
    reorder_point: int
    order_up_to: int


def policy_levels(demand, *, lead_time_days, review_days, service_level=SERVICE_LEVEL):
    """Reorder point and order-up-to level for a history of daily demand.

    Reorder point = mean × lead time + z × spread × √lead time: the demand expected while
    an order is on its way plus safety stock for the service level. Order-up-to = reorder
    point + mean × days between orders, so stock lasts until the next order. Both round up
    (a tiny tolerance keeps 14.000000001 from becoming 15).
    """
    demand = list(demand)
    mean, spread = sum(demand) / len(demand), pstdev(demand)
    z = NormalDist().inv_cdf(service_level)
    reorder_point = math.ceil(mean * lead_time_days + z * spread * math.sqrt(lead_time_days) - 1e-9)
    order_up_to = math.ceil(reorder_point + mean * review_days - 1e-9)
    return PolicyLevels(mean, spread, reorder_point, order_up_to)


@dataclass(frozen=True)
class SimulationResult:
    name: str
    stockout_rate: float  # share of variant-days on which demand went unmet
    fill_rate: float  # share of demanded units that were served
    average_stock: float  # units on hand per variant, averaged over the days


def _poisson(rng, mean):
    """Knuth's method: fine for the small daily means of one variant."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _run(name, demand, leads, reorder):
    days = len(demand[0]) - DEMAND_WINDOW_DAYS
    short_days = served = wanted = held = 0
    for history, lead in zip(demand, leads, strict=True):
        stock, arrivals = 20, {}
        for day in range(DEMAND_WINDOW_DAYS, DEMAND_WINDOW_DAYS + days):
            stock += arrivals.pop(day, 0)
            asked = history[day]
            given = min(stock, asked)
            stock -= given
            short_days += given < asked
            served, wanted = served + given, wanted + asked
            held += stock
            position = stock + sum(arrivals.values())
            quantity = reorder(history[day - DEMAND_WINDOW_DAYS + 1 : day + 1], lead, position)
            if quantity > 0:
                arrivals[day + lead] = arrivals.get(day + lead, 0) + quantity
    variant_days = len(demand) * days
    return SimulationResult(
        name=name,
        stockout_rate=short_days / variant_days,
        fill_rate=served / wanted if wanted else 1.0,
        average_stock=held / variant_days,
    )


def simulate(*, variants=300, days=365, review_days=7, seed=7):
    """A year of daily demand for many variants under the policy and under "20 when under 5".

    Each variant gets its own mean demand (0.2 to 6 a day) and lead time (2 to 10 days);
    both policies see the same demand. Orders are considered daily on stock on hand plus on
    order; the policy reads the last DEMAND_WINDOW_DAYS days of demand, as the nightly task does.
    """
    rng = random.Random(seed)
    means = [rng.uniform(0.2, 6) for _variant in range(variants)]
    leads = [rng.randint(2, 10) for _variant in range(variants)]
    demand = [[_poisson(rng, mean) for _day in range(DEMAND_WINDOW_DAYS + days)] for mean in means]

    def policy(history, lead, position):
        levels = policy_levels(history, lead_time_days=lead, review_days=review_days)
        return levels.order_up_to - position if position <= levels.reorder_point else 0

    def fixed(_history, _lead, position):
        return 20 if position < 5 else 0

    return [
        _run("Replenishment policy", demand, leads, policy),
        _run("Reorder 20 when under 5", demand, leads, fixed),
    ]

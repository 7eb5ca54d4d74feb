"""Choosing claim records and planting wrong links of the kinds seen in the 2023 incidents.

Each claims file gets ``round(n * mislink_rate)`` wrong links split over the kinds in
proportion to fixed weights (largest-remainder rounding, so small populations still
get every kind), plus ``round(n * invalid_rate)`` numbers that fail the check digit.
Targets are stored as person indices; numbers are resolved only after all numbers are
assigned, so re-numbering for transposition pairs can never desynchronise the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pprl.synth.households import Population

KINDS = [
    "none",
    "homonym",
    "homonym_same_dob",
    "family",
    "twin",
    "data_entry",
    "transposed_digits",
    "bank_carryover",
    "invalid_check_digit",
]
KIND_CODE = {k: i for i, k in enumerate(KINDS)}
CORRECT, WRONG, INVALID = 0, 1, 2
STATUS = ["correct", "wrong", "invalid_number"]


@dataclass
class ClaimPlan:
    """Per claim row: owner person, linked person (wrong links), kind and status codes."""

    owner: np.ndarray  # int64 person index (true owner)
    target: np.ndarray  # int64 person index the record is linked to (-1 = owner / invalid)
    kind: np.ndarray  # int8 index into KINDS
    status: np.ndarray  # int8 CORRECT / WRONG / INVALID

    def counts(self) -> dict[str, int]:
        """Planted wrong/invalid links per kind (correct links excluded)."""
        bc = np.bincount(self.kind, minlength=len(KINDS))
        return {k: int(bc[i]) for i, k in enumerate(KINDS) if i and bc[i]}


@dataclass
class PlantState:
    """Shared state across claims files: who is locked, which pairs need swapped numbers."""

    locked: np.ndarray  # bool per person: name/number must not change any more
    pairs: list[tuple[int, int]] = field(default_factory=list)


def allocate(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` over kinds by weight with largest-remainder rounding."""
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    raw = total * w / w.sum()
    base = np.floor(raw).astype(int)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: total - base.sum()]] += 1
    return dict(zip(keys, base.tolist(), strict=True))


def insurer_owners(rng: np.random.Generator, pop: Population, m: int) -> np.ndarray:
    """``m`` residents sampled by household so that families appear together."""
    hhs = pop.households
    perm = rng.permutation(len(hhs))
    csum = np.cumsum(hhs.size[perm])
    k = int(np.searchsorted(csum, m)) + 1
    chosen = perm[:k]
    sizes = hhs.size[chosen].astype(np.int64)
    offs = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return (np.repeat(hhs.start[chosen], sizes) + offs)[:m]


def bank_owners(rng: np.random.Generator, pop: Population, b: int) -> np.ndarray:
    """``b`` distinct adults (18+) in registration order; falls back to anyone if short."""
    from pprl.synth.households import REFERENCE_DAY

    adults = np.flatnonzero(pop.dob <= REFERENCE_DAY - 18 * 365)
    pool = adults if len(adults) >= b else np.arange(len(pop))
    return rng.choice(pool, size=b, replace=False).astype(np.int64)


def plant_namesakes(
    rng: np.random.Generator,
    pop: Population,
    source: np.ndarray,
    same_dob: np.ndarray,
    state: PlantState,
) -> np.ndarray:
    """Turn unlocked single-person households into namesakes of ``source`` people.

    Only singles are rewritten so that family surnames stay consistent. Returns the
    rewritten person per source (-1 where no single was left).
    """
    singles = pop.households.start[pop.households.size == 1]
    singles = singles[~state.locked[singles] & ~np.isin(singles, source)]
    take = rng.choice(singles, size=min(len(source), len(singles)), replace=False)
    out = np.full(len(source), -1, dtype=np.int64)
    out[: len(take)] = take
    src = source[: len(take)]
    for arr in (pop.surname, pop.given, pop.female, pop.old_kanji):
        arr[take] = arr[src]
    sd = same_dob[: len(take)]
    pop.dob[take[sd]] = pop.dob[src[sd]]
    # a namesake with a different birth date must really differ
    clash = ~sd & (pop.dob[take] == pop.dob[src])
    pop.dob[take[clash]] += 1
    state.locked[take] = True
    state.locked[src] = True
    return out


def natural_namesakes(pop: Population, people: np.ndarray) -> np.ndarray:
    """For each person, another resident with the same name and a different DOB, else -1."""
    key = (pop.surname.astype(np.int64) * 2 + pop.female) * 100_000 + pop.given
    order = np.argsort(key, kind="stable")
    skey = key[order]
    lo = np.searchsorted(skey, key[people], side="left")
    hi = np.searchsorted(skey, key[people], side="right")
    out = np.full(len(people), -1, dtype=np.int64)
    for step in range(1, 4):
        cand = order[
            np.minimum(
                lo + (np.arange(len(people)) + step) % np.maximum(hi - lo, 1), len(order) - 1
            )
        ]
        ok = (out < 0) & (hi - lo > 1) & (cand != people) & (pop.dob[cand] != pop.dob[people])
        ok &= pop.hh[cand] != pop.hh[people]
        out[ok] = cand[ok]
    return out


class Planter:
    """Plants wrong links into one claims file's plan, row by row kind by kind."""

    def __init__(
        self, rng: np.random.Generator, pop: Population, plan: ClaimPlan, state: PlantState
    ) -> None:
        """Keep references; ``free`` marks rows not yet used by a planted error."""
        self.rng, self.pop, self.plan, self.state = rng, pop, plan, state
        self.free = np.ones(len(plan.owner), dtype=bool)

    def rows(self, n: int, eligible: np.ndarray | None = None) -> np.ndarray:
        """Up to ``n`` random free rows whose owner is unlocked (and eligible)."""
        ok = self.free & ~self.state.locked[self.plan.owner]
        if eligible is not None:
            ok &= eligible
        cand = np.flatnonzero(ok)
        return np.sort(self.rng.choice(cand, size=min(n, len(cand)), replace=False))

    def mark(self, rows: np.ndarray, targets: np.ndarray, kind: str, status: int = WRONG) -> None:
        """Record planted rows and lock their owners and targets."""
        self.plan.target[rows] = targets
        self.plan.kind[rows] = KIND_CODE[kind]
        self.plan.status[rows] = status
        self.free[rows] = False
        self.state.locked[self.plan.owner[rows]] = True
        self.state.locked[targets[targets >= 0]] = True

    def twin(self, n: int) -> int:
        """Link to the twin sibling; returns how many could be planted."""
        rows = self.rows(n, self.pop.twin[self.plan.owner] >= 0)
        self.mark(rows, self.pop.twin[self.plan.owner[rows]].astype(np.int64), "twin")
        return len(rows)

    def family(self, n: int) -> int:
        """Link to another member of the same household (not the twin)."""
        hhs, owner = self.pop.households, self.plan.owner
        size = hhs.size[self.pop.hh[owner]]
        rows = self.rows(n, size >= 2)
        p = owner[rows]
        h = self.pop.hh[p]
        pos = p - hhs.start[h]
        target = np.full(len(rows), -1, dtype=np.int64)
        for _ in range(8):
            cand = (
                hhs.start[h]
                + (pos + self.rng.integers(1, np.maximum(hhs.size[h], 2))) % hhs.size[h]
            )
            ok = (target < 0) & (cand != p) & (cand != self.pop.twin[p])
            target[ok] = cand[ok]
        keep = target >= 0
        self.mark(rows[keep], target[keep], "family")
        return int(keep.sum())

    def homonym(self, n: int, same_dob: bool) -> int:
        """Link to a namesake: natural ones first (different DOB only), then planted."""
        done = 0
        kind = "homonym_same_dob" if same_dob else "homonym"
        if not same_dob:
            rows = self.rows(50 * n + 2000)  # a sample is plenty: namesakes are common
            partner = natural_namesakes(self.pop, self.plan.owner[rows])
            partner_ok = (partner >= 0) & ~self.state.locked[np.maximum(partner, 0)]
            rows, partner = rows[partner_ok], partner[partner_ok]
            sel = self.rng.permutation(len(rows))[:n]
            sel = sel[np.unique(partner[sel], return_index=True)[1]]
            self.mark(rows[sel], partner[sel], kind)
            done = len(sel)
        rows = self.rows(n - done)
        targets = plant_namesakes(
            self.rng, self.pop, self.plan.owner[rows], np.full(len(rows), same_dob), self.state
        )
        keep = targets >= 0
        self.mark(rows[keep], targets[keep], kind)
        return done + int(keep.sum())

    def data_entry(self, n: int) -> int:
        """Link to an unrelated resident (different household)."""
        rows = self.rows(n)
        p = self.plan.owner[rows]
        target = self.rng.integers(0, len(self.pop), len(rows))
        bad = self.pop.hh[target] == self.pop.hh[p]
        target[bad] = (target[bad] + self.pop.households.size[self.pop.hh[target[bad]]]) % len(
            self.pop
        )
        keep = self.pop.hh[target] != self.pop.hh[p]
        self.mark(rows[keep], target[keep], "data_entry")
        return int(keep.sum())

    def transposed(self, n: int) -> int:
        """Link to a resident whose number is the owner's with two adjacent digits swapped."""
        rows = self.rows(n)
        p = self.plan.owner[rows]
        cand = np.unique(self.rng.integers(0, len(self.pop), 4 * len(rows) + 64))
        cand = cand[~self.state.locked[cand] & ~np.isin(cand, p)]
        target = self.rng.permutation(cand)[: len(rows)].astype(np.int64)
        rows, p = rows[: len(target)], p[: len(target)]
        self.mark(rows, target, "transposed_digits")
        self.state.pairs.extend(zip(p.tolist(), target.tolist(), strict=True))
        return len(rows)

    def carryover(self, n: int) -> int:
        """Bank: link to the previous registrant at the same terminal."""
        owner = self.plan.owner
        prev = np.concatenate([[-1], owner[:-1]])
        ok = (prev >= 0) & (self.pop.hh[np.maximum(prev, 0)] != self.pop.hh[owner])
        ok &= np.concatenate([[False], self.free[:-1]])  # previous row is itself clean
        rows = self.rows(n, ok)
        rows = rows[np.concatenate([[True], np.diff(rows) > 1])] if len(rows) else rows
        self.mark(rows, prev[rows].astype(np.int64), "bank_carryover")
        self.free[rows - 1] = False  # keep the previous registrant's own link correct
        return len(rows)

    def invalid(self, n: int) -> int:
        """Invalid number (typo failing the check digit); resolved after numbering."""
        rows = self.rows(n)
        self.plan.kind[rows] = KIND_CODE["invalid_check_digit"]
        self.plan.status[rows] = INVALID
        self.free[rows] = False
        return len(rows)


def plant(
    rng: np.random.Generator,
    pop: Population,
    owner: np.ndarray,
    n_wrong: int,
    n_invalid: int,
    weights: dict[str, float],
    state: PlantState,
) -> ClaimPlan:
    """Build a claims plan with ``n_wrong`` wrong links (by kind) and ``n_invalid`` invalid."""
    n = len(owner)
    plan = ClaimPlan(
        owner.astype(np.int64),
        np.full(n, -1, dtype=np.int64),
        np.zeros(n, dtype=np.int8),
        np.zeros(n, dtype=np.int8),
    )
    planter = Planter(rng, pop, plan, state)
    want = allocate(n_wrong, weights)
    spill = 0
    if "bank_carryover" in want:
        spill += want["bank_carryover"] - planter.carryover(want["bank_carryover"])
    spill += want.get("twin", 0) - planter.twin(want.get("twin", 0))
    spill += want.get("family", 0) + 0 - planter.family(want.get("family", 0) + spill)
    spill = max(spill, 0)
    spill = want["homonym_same_dob"] - planter.homonym(want["homonym_same_dob"], True) + spill
    spill = want["homonym"] + spill - planter.homonym(want["homonym"] + spill, False)
    spill = (
        want["transposed_digits"] + spill - planter.transposed(want["transposed_digits"] + spill)
    )
    planter.data_entry(want["data_entry"] + spill)
    planter.invalid(n_invalid)
    return plan

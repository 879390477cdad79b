"""The combat kernel: a pure function over many engagements at once.

Each engagement is one contested location. Per sub-step h of a day:

  engaged      e_X = min(X, frontage_X)                      (frontage-limited)
  firing       f_X = min(e_X, ammo_X / (rate_X * h))         (without ammunition a fighter cannot fire)
  loss rate on Y, aimed fire:  lam_Y = leth_X * f_X * (1 - cover_Y)
                  area fire:   lam_Y = leth_X * f_X * e_Y * (1 - cover_Y)
  losses       Binomial(e_Y, lam_Y * h / e_Y)                (mean lam_Y * h; rng=None gives the mean)

Supporting fire (switches.fire_support: mortars, rockets, artillery, tanks, drones, aircraft) acts on everyone
at the place, like area fire, from the ammunition the small arms left:
  firing       s_X = min(support_X, ammo_left_X / (support_rate_X * h))
  loss rate on Y   mu_Y = support_leth_X * s_X * Y * (1 - cover_Y)   on all Y present, not the frontage
With supporting fire only, Y(t) = Y0 (1 - mu h)^(t/h) in the mean (exp(-support_leth s (1 - cover) t) as h -> 0).

Limiting cases (no frontage limit, no ammunition limit, small h) are Lanchester's square law (both aimed),
the linear law (both area), Deitchman's guerrilla law (one side area, the other aimed) and, with both sides
above their frontage, the frontage law (constant daily losses, exchange ratio leth_A / leth_D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import fused


@dataclass(frozen=True)
class Engagement:
    """Result per engagement: fighters lost and ammunition (kg) fired by each side."""

    att_loss: np.ndarray
    dfd_loss: np.ndarray
    att_ammo_used: np.ndarray
    dfd_ammo_used: np.ndarray


def _firing(engaged, ammo, rate, h):
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.where(rate > 0, ammo / (rate * h), np.inf)
    return np.minimum(engaged, limit)


def _loss_rate(leth, firers, area, targets, cover):
    return leth * firers * np.where(area, targets, 1.0) * (1.0 - cover)


def _draw(targets, expected, rng):
    if rng is None:
        return np.minimum(expected, targets)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(targets > 0, expected / targets, 0.0)
    return rng.binomial(targets.astype(np.int64), np.clip(p, 0.0, 1.0))


def engage(att, dfd, *, att_leth, dfd_leth, att_area=False, dfd_area=False, att_cover=0.0,
           dfd_cover=0.0, att_frontage=np.inf, dfd_frontage=np.inf, att_ammo=np.inf,
           dfd_ammo=np.inf, att_ammo_rate=0.0, dfd_ammo_rate=0.0, dt=1.0, substeps=1,
           rng: np.random.Generator | None = None, att_support=0.0, dfd_support=0.0, att_support_leth=0.0,
           dfd_support_leth=0.0, att_support_rate=0.0, dfd_support_rate=0.0) -> Engagement:
    """Fight `substeps` sub-steps over `dt` days at every engagement (all arguments broadcast).

    att, dfd: fighters present (integers; floats allowed with rng=None, the mean-field limit).
    *_leth: lethality; *_area: area fire (True) or aimed fire (False); *_cover: protection of that side.
    *_ammo: kg available to each side; *_ammo_rate: kg per firing fighter per day.
    rng: a numpy Generator for stochastic losses, or None for the expected (mean-field) losses.
    *_support: supporting weapons firing at the place; *_support_leth: fighters put out of action per weapon
    per enemy fighter present per day; *_support_rate: kg per weapon per day of firing. Without any, no draw
    is made for them (the results are those of the kernel before supporting fire).
    """
    a = np.asarray(att, dtype=float).copy()
    d = np.asarray(dfd, dtype=float).copy()
    shape = np.broadcast_shapes(a.shape, d.shape)
    a, d = np.broadcast_to(a, shape).copy(), np.broadcast_to(d, shape).copy()
    b = lambda x: np.broadcast_to(np.asarray(x, dtype=float), shape)  # noqa: E731
    att_leth, dfd_leth, att_cover, dfd_cover = b(att_leth), b(dfd_leth), b(att_cover), b(dfd_cover)
    att_front, dfd_front = b(att_frontage), b(dfd_frontage)
    att_rate, dfd_rate = b(att_ammo_rate), b(dfd_ammo_rate)
    att_area = np.broadcast_to(np.asarray(att_area, dtype=bool), shape)
    dfd_area = np.broadcast_to(np.asarray(dfd_area, dtype=bool), shape)
    a_ammo, d_ammo = b(att_ammo).copy(), b(dfd_ammo).copy()
    a_used, d_used = np.zeros(shape), np.zeros(shape)
    a_lost, d_lost = np.zeros(shape), np.zeros(shape)
    att_sup, dfd_sup = b(att_support), b(dfd_support)
    att_sleth, dfd_sleth, att_srate, dfd_srate = b(att_support_leth), b(dfd_support_leth), b(att_support_rate), \
        b(dfd_support_rate)
    supported = bool(np.any(att_sup > 0) or np.any(dfd_sup > 0))
    h = dt / substeps
    for _ in range(substeps):
        ea, ed = np.minimum(a, att_front), np.minimum(d, dfd_front)
        fa = _firing(ea, a_ammo, att_rate, h)
        fd = _firing(ed, d_ammo, dfd_rate, h)
        fa = np.where(ed > 0, fa, 0.0)  # nobody fires at an empty position
        fd = np.where(ea > 0, fd, 0.0)
        lam_d = _loss_rate(att_leth, fa, att_area, ed, dfd_cover)
        lam_a = _loss_rate(dfd_leth, fd, dfd_area, ea, att_cover)
        ld, la = _draw(ed, lam_d * h, rng), _draw(ea, lam_a * h, rng)
        ua, ud = fa * att_rate * h, fd * dfd_rate * h
        if supported:  # on everyone left at the place, from the ammunition the small arms left
            d_left, a_left = d - ld, a - la
            sa = np.where(d_left > 0, _firing(att_sup, a_ammo - ua, att_srate, h), 0.0)
            sd = np.where(a_left > 0, _firing(dfd_sup, d_ammo - ud, dfd_srate, h), 0.0)
            lsd = _draw(d_left, att_sleth * sa * d_left * (1.0 - dfd_cover) * h, rng)
            lsa = _draw(a_left, dfd_sleth * sd * a_left * (1.0 - att_cover) * h, rng)
            ld, la = ld + lsd, la + lsa
            ua, ud = ua + sa * att_srate * h, ud + sd * dfd_srate * h
        a_ammo = a_ammo - ua
        d_ammo = d_ammo - ud
        a_used += ua
        d_used += ud
        a, d = a - la, d - ld
        a_lost += la
        d_lost += ld
    if rng is not None:
        a_lost, d_lost = a_lost.astype(np.int64), d_lost.astype(np.int64)
    return Engagement(a_lost, d_lost, a_used, d_used)


def engage_each(att, dfd, *, att_leth: float, dfd_leth: float, att_area: bool, dfd_area: bool, att_cover,
                dfd_cover, att_frontage, dfd_frontage, att_ammo, dfd_ammo, att_ammo_rate: float,
                dfd_ammo_rate: float, dt: float, substeps: int, rng: np.random.Generator | fused.StreamBox,
                att_support=None, dfd_support=None, att_support_leth: float = 0.0, dfd_support_leth: float = 0.0,
                att_support_rate: float = 0.0, dfd_support_rate: float = 0.0) -> Engagement:
    """`engage` (stochastic) for the few places fought over on a day, in one compiled call
    (`fused.engage_places`): the same arithmetic in the same order and the same draws from `rng` (each sub-step
    the defenders' losses at every place, then the attackers'), so the results are `engage`'s bit for bit and the
    generator is left in the same state (tests/test_combat_oracles.py), without numpy's cost per call on arrays of
    two or three places. Per-place arguments are sequences; `rng` the stream, or the stream in its box
    (`Streams.box`: a Generator is boxed here, at a cost of ~40 us a call)."""
    k = len(att)
    floats = lambda x: np.array(x, dtype=float)  # noqa: E731  (copies: the kernel changes some in place)
    no_support = np.zeros(k)
    lost_a, lost_d, used_a, used_d = fused.engage_places(
        floats(att), floats(dfd), floats(att_cover), floats(dfd_cover), floats(att_frontage), floats(dfd_frontage),
        floats(att_ammo), floats(dfd_ammo), no_support if att_support is None else floats(att_support),
        no_support if dfd_support is None else floats(dfd_support), float(att_leth), float(dfd_leth),
        bool(att_area), bool(dfd_area), float(att_ammo_rate), float(dfd_ammo_rate), float(att_support_leth),
        float(dfd_support_leth), float(att_support_rate), float(dfd_support_rate), float(dt), int(substeps),
        fused.as_box(rng))
    return Engagement(lost_a, lost_d, used_a, used_d)


def engaged_odds(att, dfd, *, att_leth: float, dfd_leth: float, att_area: bool, dfd_area: bool, dfd_cover: float,
                 frontage: float, att_support: float = 0.0, dfd_support: float = 0.0, att_support_leth: float = 0.0,
                 dfd_support_leth: float = 0.0) -> float:
    """Odds of an attack on a place as the fight would go (switches.frontage_decisions): the losses a day the
    attackers would inflict over those they would take, at the kernel's rates: small arms from the strength the
    frontage lets engage on each side, supporting fire on everyone present; the holders in the place's cover,
    the attackers in the open. Infinite against holders who cannot fire. With no frontage limit, no supporting
    fire and aimed fire it is `local_odds`."""
    ea, ed = min(float(att), float(frontage)), min(float(dfd), float(frontage))
    lam_d = (att_leth * ea * (ed if att_area else 1.0) * (1.0 - dfd_cover)
             + att_support_leth * att_support * float(dfd) * (1.0 - dfd_cover))
    lam_a = dfd_leth * ed * (ea if dfd_area else 1.0) + dfd_support_leth * dfd_support * float(att)
    if float(dfd) <= 0:
        return math.inf
    return lam_d / lam_a if lam_a > 0 else math.inf


def local_odds(att, dfd, att_leth, dfd_leth, att_cover, dfd_cover) -> float:
    """Firepower ratio attacker : defender at one place as its commanders judge it: heads, not frontage,
    because depth is what replaces the losses at the front (infinite against a side that cannot fire). Plain
    floats: a commander weighs one place at a time."""
    pa = float(att) * float(att_leth) * (1.0 - float(dfd_cover))
    pd = float(dfd) * float(dfd_leth) * (1.0 - float(att_cover))
    return pa / pd if pd > 0 else math.inf

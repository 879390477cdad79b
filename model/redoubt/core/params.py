"""The scenario's parameters as typed, frozen records: what the model and its agents take.

Each record is one section of a scenario file and the schema of that section: a field's annotation is its type
and its `rule` its default, range and meaning in the file (`redoubt.inputs.schema`). Loading checks a file
against these rules and builds the records (`redoubt.inputs.scenario.load_params`), so a reader (or a type
checker) can follow `sides.defender.strength` from the file to where it acts: `params.sides.defender.strength`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal

from ..inputs.schema import record, rule, table

# Sizes bounded by what a machine can hold (and far above any valley campaign), so that a typo such as
# strength = 2000000000 is refused at once instead of exhausting memory.
MAX_FIGHTERS = 1_000_000  # per side, in the valley at once and over all waves
MAX_GROUPS = 200_000  # agents per side: fighters / fighters_per_agent (about 1 KB each)


@record
class ScenarioInfo:
    """[scenario]: what the file is, when it starts, how long it may run, its resolution."""

    name: str = rule()
    title: str = rule('')
    start_date: dt.date = rule()
    horizon_days: int = rule(200, min=1, max=3650)
    fighters_per_agent: int = rule(10, min=1)
    combat_substeps: int = rule(4, min=1, max=1000)
    combat_dt_days: float = rule(1.0, min=1e-06, doc='days per model step for combat')


@record
class Switches:
    """[switches]: each process on or off (`effective` applies which needs which)."""

    logistics: bool = rule(True)
    morale: bool = rule(True)
    movement: bool = rule(True)
    weather: bool = rule(True)
    # Issue 13's processes (docs/ODD.md), each needs the switch named beside it on too.
    infiltration: bool = rule(True, doc='attackers slip past thin defences (needs movement)')
    encirclement: bool = rule(True, doc='cut-off places lose morale and surrender (needs morale)')
    counterattack: bool = rule(True, doc='defenders retake neighbouring places (needs movement)')
    cohesion: bool = rule(True, doc='contagious morale, news, key losses, breaking points (needs morale)')
    pacts: bool = rule(True, doc='local surrender pacts, and their unravelling (needs morale)')
    overstretch: bool = rule(True, doc='attackers recalled elsewhere or reinforced (needs movement)')
    civilian_flight: bool = rule(True, doc='civilians leave over open passes (needs logistics)')
    dispersal: bool = rule(True, doc='deserters may go to ground and regroup later (needs morale)')
    # Issue 21's processes: off by default until the calibration episodes have been run with them.
    main_effort: bool = rule(False, doc='the attacker presses on to an objective, around defended places, fixing them '
                             'with the least force, never idle in a dead end (needs movement)')
    fire_support: bool = rule(False, doc="each side's supporting weapons (mortars, rockets, artillery, tanks, drones, "
                              'aircraft) fire on everyone at the places where it fights, like area fire, limited by '
                              'ammunition')
    outside_pacts: bool = rule(False, doc='the national picture: news of districts that changed sides by '
                               'negotiation lowers the defenders\' morale at the start, and places out of contact '
                               'may settle too (needs pacts)')
    evasion: bool = rule(False, doc='a place given up is not fought for to the last: evade_share of its defenders '
                         'slip into the mountains as a body and come back when the enemy thins (needs dispersal)')
    uncertain: bool = rule(False, doc="draw the file's [uncertain] inputs and parameter sets afresh for each run "
                           "(off: every run takes the file's own values; compare, window and calibrate turn it on)")
    frontage_decisions: bool = rule(False, doc='attack, commit, reinforce and fall-back decisions weigh the strength '
                                    "the place's frontage lets engage and each side's supporting fire, not heads; an "
                                    'attack brings the frontage and a reserve, no more (needs movement)')


# Issue 13's processes act only when the switch of what they are made of is on too.
# A parent before its children: effective() applies them in this order.
NEEDS = {"infiltration": "movement", "counterattack": "movement", "overstretch": "movement",
         "encirclement": "morale", "cohesion": "morale", "pacts": "morale", "civilian_flight": "logistics",
         "dispersal": "morale", "main_effort": "movement", "frontage_decisions": "movement",
         "outside_pacts": "pacts", "evasion": "dispersal"}


def effective(switches: Switches) -> Switches:
    """The switches as the model applies them: a process whose parent switch is off is off."""
    values = {f.name: getattr(switches, f.name) for f in dataclasses.fields(switches)}
    for k, parent in NEEDS.items():  # in order, so a grandparent switched off switches off its grandchildren
        values[k] = values[k] and values[parent]
    return Switches(**values)


@record
class Deployment:
    """Where a share of a side's starting strength stands."""

    location: int = rule()
    share: float = rule(min=0, max=1)


@record
class Side:
    """[sides.attacker] or [sides.defender]: a side's forces, arrivals, fire, morale, logistics and decisions."""

    name: str = rule(doc='name used in outputs')
    strength: int = rule(0, min=0, max=MAX_FIGHTERS, doc='fighters in the valley at the start')
    waves: tuple[tuple[float, ...], ...] = rule((), doc='arrivals as [[time in days, fighters], ...]; 4.5 arrives '
            'halfway through day 5; [time, fighters, location id] arrives there instead of at arrive_at (another axis)')
    committed: int = rule(0, min=0, max=MAX_FIGHTERS, doc='if > 0, waves are rescaled to sum to this pool')
    withdrawals: tuple[tuple[float, float], ...] = rule((), doc='planned departures as [[day, share], ...]: on that '
            "day the share of the side's fighters not in battle leaves the valley (an operation of limited duration)")
    arrive_at: int = rule(-1, doc='location id where waves arrive')
    reserve: int = rule(-1, doc='location id of the reserve (-1: none)')
    reserve_keep: float = rule(0.5, min=0, max=1, doc='share of the reserve never sent away')
    deploy: tuple[Deployment, ...]
    fire: Literal['aimed', 'area'] = rule('aimed')
    lethality: float = rule(min=0, max=10, doc='aimed: hits per firing fighter per day; area: per target too (at most '
            '10: beyond any real fire, and the kernel stays finite)')
    morale: float = rule(0.8, min=0, max=1)
    morale_recovery: float = rule(0.02, min=0, max=1)
    morale_loss_shock: float = rule(2.0, min=0)
    morale_hunger: float = rule(0.05, min=0, max=1)
    morale_no_ammo: float = rule(0.05, min=0, max=1)
    morale_civilian_hunger: float = rule(0.0, min=0, max=1)
    desert_below: float = rule(0.4, min=0, max=1)
    desert_rate: float = rule(0.05, min=0, max=1)
    surrender_below: float = rule(0.25, min=0, max=1)
    surrender_rate: float = rule(0.2, min=0, max=1)
    food_kg_per_day: float = rule(1.0, min=0)
    carry_food_days: float = rule(3.0, min=0)
    ammo_kg_per_day_combat: float = rule(8.0, min=0)
    ammo_kg_per_day_idle: float = rule(0.3, min=0)
    ammo_reference_kg_per_day: float = rule(1.0, min=0)
    carry_ammo_kg: float = rule(15.0, min=0)
    advance_odds: float = rule(1.5, min=0)
    commit_odds: float = rule(3.0, min=0, doc='an attack brings enough fighters for these odds, no more')
    fallback_odds: float = rule(3.0, min=0)
    threshold_spread: float = rule(0.25, min=0, max=5, doc="spread of commanders' fall-back odds (log units; 0: a hard "
            'threshold)')
    reinforce_odds: float = rule(1.0, min=0)
    pause_loss_share: float = rule(0.15, min=0, max=1)
    pause_window_days: int = rule(3, min=1)
    pause_days: int = rule(4, min=0)
    flank_after_days: int = rule(5, min=1)
    flank_share: float = rule(0.2, min=0, max=1)
    garrison: int = rule(30, min=0)
    engaged_depth: float = rule(2.0, min=0, doc='in battle, fighters kept per frontage place; the rest may move')
    fix_ratio: float = rule(1.0, min=0, max=10, doc='switches.main_effort: a stack that goes around a defended place '
                            'next to it leaves this many fighters per defender there to hold them in place')
    assault_reserve: float = rule(0.5, min=0, max=10, doc='switches.frontage_decisions: an attack (or a threatened '
                                  'place) is given what its frontage can use and this share of it again as a reserve')
    support_weapons: float = rule(0.0, min=0, max=10000, doc='switches.fire_support: supporting weapons the side '
                                  'brings to bear where it fights, shared among those places by its fighters there')
    support_lethality: float = rule(0.0, min=0, max=1, doc='switches.fire_support: enemy fighters put out of action '
                                    'per weapon per enemy fighter present per day (area fire: the more there are, the '
                                    'more are hit)')
    support_ammo_kg_per_day: float = rule(0.0, min=0, doc='switches.fire_support: kg of ammunition a supporting weapon '
                                          'fires in a day, from what the side has at the place')
    destroy_on_retreat: float = rule(0.5, min=0, max=1)
    speed_km_per_day: float = rule(30.0, min=0.1)
    path_slowdown: float = rule(3.0, min=1, doc='a km of mountain path (with no days given) takes this many times as '
            'long as a km of road')
    out_of_ammo_kg: float = rule(0.5, min=0, doc='kg per fighter below which a group counts as out of ammunition '
            '(falls back, loses morale)')
    # Manoeuvre (switches.infiltration, .encirclement, .counterattack)
    infiltration_rate: float = rule(0.02, min=0, max=1, doc='share of a free stack that slips past a defended place in '
            'a day (mostly by night) when the defenders there are thin')
    infiltration_density_ref: float = rule(2.0, min=0.01, doc='defenders per frontage place at which the chance to '
            'slip past falls to 1/e')
    infiltration_bad_visibility: float = rule(2.0, min=1, doc='infiltration is this many times likelier on a day of '
            'cloud or snow')
    morale_encircled: float = rule(0.03, min=0, max=1, doc='morale lost per day encircled')
    encircled_surrender_below: float = rule(0.45, min=0, max=1, doc='encircled, groups surrender below this morale, in '
            'battle or not')
    counterattack_odds: float = rule(2.0, min=0, doc='a stack counterattacks a neighbouring place the enemy holds at '
            'these odds or better')
    counterattack_keep: float = rule(0.5, min=0, max=1, doc='share of a stack that stays to hold its place')
    # Cohesion (switches.cohesion and .pacts)
    morale_contagion: float = rule(0.2, min=0, max=1, doc="per day, a place's morale moves this share of the way to "
            "its neighbours' mean")
    morale_news: float = rule(0.5, min=0, doc='morale lost per share of the side that deserted, surrendered or made '
            'pacts today')
    morale_outflanked: float = rule(0.02, min=0, max=1, doc='morale lost per day with the enemy on a place behind')
    leader_risk: float = rule(1.0, min=0, doc="a place's commander is killed with this many times the chance of one of "
            'its fighters (the share of the stack lost that day)')
    morale_leader_loss: float = rule(0.15, min=0, max=1, doc="morale the place's fighters lose when their commander is "
            'killed')
    morale_key_loss: float = rule(0.1, min=0, max=1, doc='morale lost by the whole side when a key place or a depot '
            'falls')
    morale_success: float = rule(1.0, min=0, doc="morale gained per share of the enemy's local strength killed today")
    cohesion_spread: float = rule(0.05, min=0, max=1, doc="spread of commanders' breaking points and pact thresholds "
            'about break_below and pact_below (morale units, logistic)')
    break_below: float = rule(0.25, min=0, max=1, doc="a place's fighters break (most desert) when their mean morale "
            "falls below their commander's breaking point, drawn about this")
    break_share: float = rule(0.5, min=0, max=1, doc='share of a breaking stack that deserts at once')
    pact_below: float = rule(0.4, min=0, max=1, doc="a local commander may make a pact when the place's morale is "
            'below their own threshold, drawn about this')
    pact_rate: float = rule(0.05, min=0, max=1, doc='daily chance of a pact, with the enemy at or next to the place')
    pact_turn_share: float = rule(0.2, min=0, max=1, doc="share of a pact's fighters who change sides (the rest stand "
            'down)')
    pact_unravel_rate: float = rule(0.02, min=0, max=1, doc='daily share of those stood down who come back while the '
            "side's morale is above unravel_above")
    unravel_above: float = rule(0.6, min=0, max=1)
    outside_pact_share: float = rule(0.0, min=0, max=1, doc='switches.outside_pacts: share of the country\'s districts '
                                     'and provinces that changed sides by negotiation in the weeks before the start '
                                     '(an input of the episode, from sources dated before it)')
    # Dispersal (switches.dispersal)
    evade_share: float = rule(0.0, min=0, max=1, doc='switches.evasion: share of a place\'s fighters who slip into '
                              'the mountains when their commander gives the place up (the rest fall back, or fight on '
                              'if cornered); they come back with those gone to ground')
    ground_share: float = rule(0.0, min=0, max=1, doc='share of those who desert or whose place breaks who go to '
            'ground in the mountains instead of leaving for good')
    regroup_rate: float = rule(0.05, min=0, max=1, doc='daily share of those gone to ground who come back once the '
            "enemy's main force has gone")
    regroup_below: float = rule(0.5, min=0, max=1, doc="the enemy's main force has gone when its fighters in the "
            'valley are under this share of the most it has had there')
    relief_rate: float = rule(0.5, min=0, max=1, doc="once the enemy's main force has gone, morale recovers this share "
            "of the way to the side's base a day")


@record
class Sides:
    """[sides]"""

    attacker: Side
    defender: Side


@record
class Overstretch:
    """[overstretch]: demands on the attacker from outside the valley (switches.overstretch)."""

    recall_hazard: float = rule(0.01, min=0, max=1, doc='daily chance that demands elsewhere recall fighters')
    unrest_per_30_days: float = rule(0.5, min=0, doc='the recall chance grows by this factor per 30 days the valley '
            'holds (pacts elsewhere unravel)')
    recall_share: float = rule(0.2, min=0, max=1, doc="share of the side's free fighters in the valley a recall takes")
    reinforce_hazard: float = rule(0.05, min=0, max=1, doc='daily chance of extra fighters while the offensive is '
            'stalled')
    stall_days: int = rule(10, min=1, doc='days without the front moving forward that count as stalled')
    reinforce_size: int = rule(1000, min=0, max=MAX_FIGHTERS)
    pool_limit: int = rule(25000, min=0, max=MAX_FIGHTERS, doc='most fighters the side can send into the valley in all '
            '(committed and extra)')


@record
class Place:
    """[[locations]]: one place of the valley."""

    id: int = rule(min=0)
    name: str = rule()
    kind: Literal['road', 'side', 'flank', 'pass', 'outside'] = rule()
    km: float = rule(0.0)
    frontage: int = rule(min=1)
    cover: float = rule(0.0, min=0, max=0.99)
    elevation: float = rule(2000.0, min=-500, max=9000)
    x: float | None = rule(optional=True)
    y: float | None = rule(optional=True)
    closes_foot_cm: float = rule(120.0, min=0)
    held_by: Literal['defender', 'attacker', 'none'] = rule('defender')


@record
class Link:
    """[[links]]: a road or a mountain path between two places."""

    a: int = rule()
    b: int = rule()
    kind: Literal['road', 'path'] = rule('road')
    km: float = rule(10.0, min=0)
    days: float = rule(0.0, min=0, doc='path travel days; road links use km / speed')
    elevation: float = rule(0.0, min=0, doc='highest point of a path (closes in snow)')


@record
class Store:
    """[[stores]]: a located stock of food and ammunition."""

    name: str = rule()
    location: int = rule()
    side: Literal['defender', 'attacker'] = rule('defender')
    share: float = rule(0.0, min=0, max=1)
    reach_hops: int = rule(1, min=0)
    feeds_civilians: bool = rule(False)
    line_days_per_day: float = rule(0.0, min=0, doc="daily supply line, days of the side's draw")


@record
class Stock:
    """A side's starting stocks, in days of its reference draw."""

    food_days: float = rule(min=0)
    ammo_days: float = rule(min=0)


@record
class Stocks:
    """[stocks]"""

    defender: Stock = table(food_days=90.0, ammo_days=60.0)
    attacker: Stock = table(food_days=10.0, ammo_days=10.0)


@record
class Civilians:
    """[civilians]: the valley's people, fed in part from the defenders' stores."""

    population: int = rule(0, min=0)
    ration_kg_per_day: float = rule(0.55, min=0)
    share_fed_from_stores: float = rule(0.3, min=0, max=1)
    flight_rate: float = rule(0.002, min=0, max=1, doc='daily share leaving over an open pass in calm')
    flight_hunger: float = rule(0.02, min=0, max=1, doc='more per day, times the share left unfed')
    flight_fighting: float = rule(0.01, min=0, max=1, doc='more per day, times the share of the road lost')
    pressure: float = rule(2.0, min=0, doc='pacts are (1 + pressure x share unfed) times likelier')


@record
class Collapse:
    """[collapse]: when the valley has fallen."""

    key_locations: tuple[int, ...] = rule(())
    min_defender_share: float = rule(0.15, min=0, max=1)
    supply_exhausted_days: float = rule(1.0, min=0)
    run_on_after_fall: bool = rule(False, doc='after the fall (where the run ends), follow the resistance on to winter '
            "(a run-on: whether organised resistance survives it, in the outcome's run_on_ fields)")
    floor_road_share: float = rule(0.5, min=0, max=1, doc='the valley floor is lost when the attacker holds every key '
            "place and this share of the road's places")
    organised_morale: float = rule(0.3, min=0, max=1, doc="a place counts as organised resistance while its defenders' "
            'mean morale is above this ...')
    organised_min_fighters: int = rule(50, min=1, doc='... and they are at least this many')
    fall_without_organised_resistance: bool = rule(True, doc='no place with organised resistance left is a fall (so a '
            'run that held never has its resistance ended)')


@record
class WeatherParams:
    """[weather]: the season, snow and the days helicopters cannot fly."""

    first_snow_doy_mean: float = rule(315.0, min=1, max=366)
    first_snow_doy_sd: float = rule(12.0, min=0)
    winter_doy_mean: float = rule(335.0, min=1, max=400)
    winter_doy_sd: float = rule(15.0, min=0)
    first_snow_cm: float = rule(50.0, min=0)
    snow_prob: float = rule(0.3, min=0, max=1)
    snow_prob_growth: float = rule(0.01, min=0)
    snow_mean_cm: float = rule(12.0, min=0)
    ref_elevation: float = rule(4000.0)
    snowline_autumn: float = rule(3500.0)
    snowline_winter: float = rule(1500.0)
    snowline_days: float = rule(45.0, min=1)
    temp_mean: float = rule(11.0)
    temp_amplitude: float = rule(13.0, min=0)
    temp_peak_doy: float = rule(200.0)
    temp_ref_elevation: float = rule(2000.0)
    lapse_per_km: float = rule(6.5, min=0)
    temp_noise_sd: float = rule(2.5, min=0)
    temp_noise_autocorr: float = rule(0.7, min=0, max=0.999, doc='AR(1) coefficient of the daily noise')
    melt_cm_per_degree: float = rule(1.0, min=0)
    path_closed_cm: float = rule(40.0, min=0)
    slow_per_cm: float = rule(0.01, min=0)
    cold_food_per_degree: float = rule(0.01, min=0)
    cloud_grounding_prob: float = rule(0.1, min=0, max=1)
    cloud_grounding_prob_winter: float = rule(0.35, min=0, max=1)


@record
class AirResupply:
    """[resupply.air]: helicopter sorties."""

    enabled: bool = rule(False)
    start_day: int = rule(14, min=0)
    helicopters: int = rule(4, min=0)
    sorties_per_week: float = rule(10.0, min=0)
    payload_t: float = rule(2.0, min=0)
    loss_per_sortie: float = rule(0.03, min=0, max=1)
    load: Literal['demand', 'fixed'] = rule('demand', doc='demand: each load split towards the scarcer commodity; '
            'fixed: ammo_share')
    ammo_share: float = rule(0.5, min=0, max=1, doc='share of ammunition in a load when load = fixed')
    landing_locations: tuple[int, ...] = rule(())


@record
class PassResupply:
    """[resupply.passes]: porters and pack animals over the passes."""

    enabled: bool = rule(False)
    start_day: int = rule(7, min=0)
    t_per_day: float = rule(8.0, min=0)
    loss_share: float = rule(0.05, min=0, max=1)
    load: Literal['demand', 'fixed'] = rule('demand', doc='demand: each load split towards the scarcer commodity; '
            'fixed: ammo_share')
    ammo_share: float = rule(0.5, min=0, max=1, doc='share of ammunition in a load when load = fixed')
    pass_locations: tuple[int, ...] = rule(())
    through_held_share: float = rule(0.0, min=0, max=1, doc='share of a load that still gets through when the '
            'attacker holds every outside place beyond the pass (the route\'s origin): 0 cuts the route')


@record
class Resupply:
    """[resupply]"""

    air: AirResupply
    passes: PassResupply


@record
class Params:
    """A whole scenario, resolved (variant and overrides applied) and checked."""

    scenario: ScenarioInfo
    switches: Switches
    sides: Sides
    overstretch: Overstretch
    locations: tuple[Place, ...]
    links: tuple[Link, ...]
    stores: tuple[Store, ...]
    stocks: Stocks
    civilians: Civilians
    collapse: Collapse
    weather: WeatherParams
    resupply: Resupply

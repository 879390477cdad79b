"""The Mesa view of the fighters: a `Fighter` agent per group (a row of its side's columns, `forces.Force`) and
a `Contingent` agent per side and place (what a Mesa user reads from `model.grid`). The fighters' state lives
in the columns; these agents are views on it, created and removed as the rows are."""

from __future__ import annotations

import numpy as np
from mesa import Agent
from mesa.discrete_space import FixedAgent

from .forces import State


class Fighter(Agent):
    """One fighter, or a group of `fighters_per_agent` of them (a super-individual).

    Its state lives in its side's Force columns (row `row`) so a whole side is updated in a few numpy
    passes; these properties read that row.
    """

    def __init__(self, model, force, row):
        super().__init__(model)
        self.force, self.row = force, int(row)

    side = property(lambda self: self.force.side)
    side_name = property(lambda self: self.force.name)
    size = property(lambda self: int(self.force.size[self.row]))
    morale = property(lambda self: float(self.force.morale[self.row]))
    food = property(lambda self: float(self.force.food[self.row]))
    ammo = property(lambda self: float(self.force.ammo[self.row]))
    state = property(lambda self: State(self.force.state[self.row]).label)

    @property
    def location(self):
        """The Location (Mesa cell) where the group is, or that it left if in transit."""
        return self.model.valley.cell(int(self.force.loc[self.row]))

    @property
    def destination(self):
        d = int(self.force.dest[self.row])
        return self.model.valley.cell(d) if d >= 0 else None


class FighterAgents:
    """A side's Fighter agents, one per row of its columns (None once the group is empty and has left).

    They are made when first read (`model.agents`, `model.agents_by_type`, a contingent's `groups`; see
    `ValleyModel.agents`) and kept up to date from then on: a run nobody reads agent by agent, such as a
    sweep's, never pays for them. Nothing in the simulation reads them, so runs are the same either way."""

    def __init__(self, model, force):
        self.model, self.force = model, force
        self.by_row: list[Fighter | None] = []
        self.live = False  # made yet?
        force.facades = self

    def materialise(self) -> None:
        """One agent for every group in action now (in row order); from now on kept up to date."""
        if self.live:
            return
        self.live = True
        f = self.force
        self.by_row = [None] * f.rows
        rows = np.nonzero(f.size[: f.rows] > 0)[0]
        if len(rows):
            for row, agent in zip(rows, Fighter.create_agents(self.model, len(rows), force=f, row=list(rows))):
                self.by_row[int(row)] = agent

    def created(self, rows: np.ndarray) -> None:
        if not self.live:
            return
        if len(rows) == 1:  # a split or a small arrival: one agent, without create_agents' set-up per call
            self.by_row.append(Fighter(self.model, self.force, int(rows[0])))
            return
        self.by_row.extend(Fighter.create_agents(self.model, len(rows), force=self.force, row=list(rows)))

    def emptied(self, row: int) -> None:
        if not self.live:
            return
        agent = self.by_row[row]
        if agent is not None:
            agent.remove()
            self.by_row[row] = None


class Contingent(FixedAgent):
    """All of one side's fighters at one location, as one agent in that location's cell: what a Mesa user
    reads from `model.grid` (`cell.agents`) is true, while the fighters themselves stay in their side's
    columns (a group moving does not touch any cell). Fighters in transit are in no contingent."""

    def __init__(self, model, force, cell):
        super().__init__(model)
        self.force = force
        self.cell = cell

    side = property(lambda self: self.force.side)
    side_name = property(lambda self: self.force.name)

    @property
    def fighters(self) -> int:
        """Fighters of this side holding this location now."""
        return int(self.force.counts()[self.cell.idx])

    @property
    def groups(self) -> list:
        """The Fighter agents (groups) that make it up."""
        facades = self.force.facades
        facades.materialise()
        return [facades.by_row[r] for r in self.force.rows_at(self.cell.idx)]

    def __repr__(self):
        return f"Contingent({self.side_name}, {self.cell.name}, {self.fighters} fighters)"

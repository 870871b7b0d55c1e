"""The pure, deterministic core (DESIGN.md section 3): cases, incidents, transfers and
stock in; tier decisions, tasks, alerts, incident states and stock levels out.

No I/O, no clock, no randomness, no logging: time comes from events and ticks, ids are
uuid5 of content. Both shells (live Faust agents, offline replay) call the same
``step``/``step_many``; see ``streams/core/engine.py`` for the contract and
``streams/rulebooks/default.yaml`` for the rules.
"""

from streams.core.checks import input_problem, received_problem
from streams.core.compiled import compile_rulebook
from streams.core.declare import (
    DeclaredEntry,
    assessment_task_id,
    declared_timeline,
    verification_id,
    warning_incident_id,
)
from streams.core.engine import InputEvent, Output, step, step_many
from streams.core.folding import TimelineEntry, fold, tier_timeline
from streams.core.persist import StateDecodeError, decode_state, encode_state, state_fingerprint
from streams.core.rollup import (
    RollupState,
    decode_rollup,
    encode_rollup,
    initial_rollup,
    rollup_ack,
    rollup_areas,
    rollup_step,
    rollup_tick,
    rollup_timeline,
)
from streams.core.rollup_feed import FeedItem, feeds_rollup, output_feeds_rollup, rollup_many
from streams.core.rollup_tasks import NATION
from streams.core.rulebook import Rulebook, RulebookError, parse_rulebook
from streams.core.rulebook_loader import (
    auto_declared,
    default_rulebook,
    load_rulebook,
    load_rules,
    shipped_registry,
)
from streams.core.state import CoreState, initial_state

__all__ = [
    "NATION",
    "CoreState",
    "DeclaredEntry",
    "FeedItem",
    "InputEvent",
    "Output",
    "RollupState",
    "Rulebook",
    "RulebookError",
    "StateDecodeError",
    "TimelineEntry",
    "assessment_task_id",
    "auto_declared",
    "compile_rulebook",
    "declared_timeline",
    "decode_rollup",
    "decode_state",
    "default_rulebook",
    "encode_rollup",
    "encode_state",
    "feeds_rollup",
    "fold",
    "initial_rollup",
    "initial_state",
    "input_problem",
    "load_rulebook",
    "load_rules",
    "output_feeds_rollup",
    "parse_rulebook",
    "received_problem",
    "rollup_ack",
    "rollup_areas",
    "rollup_many",
    "rollup_step",
    "rollup_tick",
    "rollup_timeline",
    "shipped_registry",
    "state_fingerprint",
    "step",
    "step_many",
    "tier_timeline",
    "verification_id",
    "warning_incident_id",
]

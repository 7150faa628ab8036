"""The alert lifecycle inside the cell pipeline: people's actions and the passage of time.

Incidents live in the ``incidents`` store of the partition that fused them;
everything that changes one runs in that partition's stream, so each incident
has exactly one writer and its changelog stays ordered:

* :func:`apply_actions` — acknowledge / assign / resolve requests, forwarded by
  the ``actions`` agent to the partition of the incident's anchor cell;
* :func:`sweep_incidents` — once per tick: escalate what nobody acknowledged in
  time, expire what stayed clear, forget what has been closed long enough.

Both write the changed alert and its audit entries into the :class:`Output`.
Shadow incidents (engineers only) follow the same clock but leave no audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from alerts.incidents.incident import Incident, forgettable, to_alert
from alerts.incidents.lifecycle import Action, AuditEntry, EscalationPolicy, apply_action, tick

if TYPE_CHECKING:
    from alerts.rules.engine import CompiledRules
    from streams.pipeline.step_data import Output, PipelineConfig, Stores


def escalations(rules: CompiledRules) -> dict[str, EscalationPolicy]:
    """Rule id → its escalate block, for the rules that have one."""
    return {r.id: r.spec.escalate for r in rules.rules if r.spec.escalate is not None}


def publish(out: Output, incident: Incident, entries: Iterable[AuditEntry]) -> None:
    """Queue the incident's alert and (unless it is a shadow) its audit entries."""
    out.alerts[incident.id] = to_alert(incident)
    if not incident.shadow:
        out.audit.extend(entries)


def republish(out: Output, *, stores: Stores, partition: int) -> int:
    """Queue the alert of every incident ``partition`` holds (not their audit entries);
    returns how many. A worker does this once per partition after it (re)started: an
    alert whose state reached the changelog just before a crash, but whose message did
    not reach Kafka, is published then (the web server takes repeats as no change)."""
    n = 0
    for key in list(stores.incidents.keys_in_partition(partition)):
        incident = stores.incidents.get(key)
        if incident is not None and incident.id not in out.alerts:
            out.alerts[incident.id] = to_alert(incident)
            n += 1
    return n


def apply_actions(
    actions: Iterable[Action], *, stores: Stores, partition: int, out: Output
) -> list[Action]:
    """Apply each action to its incident; returns the actions whose alert this partition
    does not hold (unknown, or forgotten), for the caller to report. An action the
    incident has already taken (the same id, delivered again) is skipped: no second
    transition, no "refused" entry for it."""
    missing = []
    for action in actions:
        incident = stores.incidents.get(action.alert)
        if incident is None:
            missing.append(action)
            continue
        if incident.lifecycle.took(action.id):
            continue  # delivered again (a worker restarted before committing): taken once
        lc, entry = apply_action(incident.lifecycle, action, incident.facts())
        changed = lc is not incident.lifecycle
        incident = replace(incident, lifecycle=lc.taking(action.id))
        if changed:
            incident = replace(incident, updated_at=max(incident.updated_at, action.at))
        stores.incidents.put(incident.id, incident, partition)
        if changed:
            publish(out, incident, [entry])
        elif not incident.shadow:
            out.audit.append(entry)  # refused: recorded, the alert is unchanged
    return missing


def sweep_incidents(
    *,
    stores: Stores,
    partition: int,
    now_ms: int,
    config: PipelineConfig,
    policies: Mapping[str, EscalationPolicy],
    out: Output,
) -> None:
    """Escalate, expire and forget the incidents of ``partition`` at ``now_ms``."""
    store = stores.incidents
    for key in list(store.keys_in_partition(partition)):
        incident = store.get(key)
        if incident is None:
            continue
        if forgettable(incident, now_ms, config.fusion):
            store.delete(key)
            out.forgotten.append(incident)
            continue
        lc, entries = tick(incident.lifecycle, incident.facts(), now_ms, config.lifecycle, policies)
        if entries:
            incident = replace(incident, lifecycle=lc, updated_at=now_ms)
            store.put(key, incident, partition)
            publish(out, incident, entries)

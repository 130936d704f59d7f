/**
 * Cut and release timings of every make-before-break handover: between replicas of a fleet (FleetMembership)
 * and between two units of one replica (the collector's egress move). Cuts are in exchange time (µs), so a
 * handover splits rows the same way live and in a replay; wall-time bounds (ms) only end waits on quiet shards.
 */

/**
 * Exchange time past the newcomer's latest row at which a cut falls, at least: the old side keeps writing until
 * then, so it must be longer than the old side takes to learn the cut (one event-loop turn locally; see
 * `fleetHandoverDelayUs` for a fleet).
 */
export const HANDOVER_DELAY_US = 2_000_000;

/** Exchange time past the cut after which the old side lets go (stragglers of the shard's other symbols). */
export const RELEASE_SLACK_US = 1_000_000;

/** Wall time after the cut at which a retiring local unit stops even if its stream stayed quiet. */
export const RELEASE_AFTER_MS = 10_000;

/** Exchange time past the cut after which the newcomer stops filtering rows before it (the old owner is gone by then). */
export const SETTLE_US = 60_000_000;

/** Leases of wall time after the acknowledgement at which a quiet incoming shard counts as settled too. */
export const SETTLE_LEASES = 4;

/**
 * A fleet's default handover delay: the old owner learns a proposed cut from the newcomer's heartbeat and its
 * own next refresh, up to two heartbeat periods, so the cut falls two heartbeats + 1 s past the newcomer's
 * latest row, and never sooner than HANDOVER_DELAY_US.
 */
export function fleetHandoverDelayUs(heartbeatMs: number): number {
  return Math.max(HANDOVER_DELAY_US, (2 * heartbeatMs + 1_000) * 1_000);
}

//! The state machine of a payment. A payment only ever moves forward:
//!
//! ```text
//! pending ─┬─> succeeded ─┬─> partially_refunded ─> refunded
//!          │              └───────────────────────> refunded
//!          ├─> failed
//!          └─> cancelled
//! ```
//!
//! A move is applied by one conditional update whose `where status = any(allowed_from)` is
//! [`Status::allowed_from`], so two workers applying the same observation, or observations
//! arriving out of order, converge: the loser's update matches no row. What an observation
//! means for a payment is decided here, without the database ([`step`]): a move, nothing (a
//! duplicate or stale observation), or a refusal (an illegal transition, logged and never
//! applied).

use serde::{Deserialize, Serialize};

/// Where a payment stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, poem_openapi::Enum, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    /// Created, waiting for the provider's answer.
    Pending,
    /// Paid.
    Succeeded,
    /// The charge did not go through.
    Failed,
    /// Abandoned before it was paid.
    Cancelled,
    /// Paid, and some of it given back.
    PartiallyRefunded,
    /// Paid, and all of it given back.
    Refunded,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
        Status::PartiallyRefunded,
        Status::Refunded,
    ];

    /// The statuses a payment may move to `self` from. A partial refund may follow another
    /// (the refunded amount grows); nothing leads back to `pending`.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Pending => &[],
            Status::Succeeded | Status::Failed | Status::Cancelled => &[Status::Pending],
            Status::PartiallyRefunded => &[Status::Succeeded, Status::PartiallyRefunded],
            Status::Refunded => &[Status::Succeeded, Status::PartiallyRefunded],
        }
    }

    pub fn may_follow(self, from: Status) -> bool {
        self.allowed_from().contains(&from)
    }

    /// Whether a chain of moves leads from `self` to `to` (`self` itself included).
    pub fn leads_to(self, to: Status) -> bool {
        self == to
            || Status::ALL
                .iter()
                .any(|&next| next != self && next.may_follow(self) && next.leads_to(to))
    }

    /// Paid, whatever was given back since.
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            Status::Succeeded | Status::PartiallyRefunded | Status::Refunded
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::PartiallyRefunded => "partially_refunded",
            Status::Refunded => "refunded",
        }
    }
}

/// What a provider (or our own manual flow) says about a payment: its status and how much of
/// it has been refunded in all, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub status: Status,
    pub refunded_minor: i64,
}

impl Observed {
    pub fn status(status: Status) -> Self {
        Self {
            status,
            refunded_minor: 0,
        }
    }

    /// Paid, with `refunded_minor` given back in all.
    pub fn refunded(refunded_minor: i64) -> Self {
        Self {
            status: Status::Refunded,
            refunded_minor,
        }
    }
}

/// A payment as [`step`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub status: Status,
    pub amount_minor: i64,
    pub refunded_minor: i64,
}

/// What an observation does to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: the payment is there already or further (a duplicate or a stale
    /// observation).
    Stay,
    /// Apply this move (one of possibly several towards the observed state: a payment seen
    /// refunded while still pending first succeeds).
    Move { to: Status, refunded_minor: i64 },
    /// The observation contradicts the payment (a failed payment seen paid, a refund larger
    /// than the payment): refused, never applied.
    Refuse,
}

/// The next move of `current` towards `observed`.
pub fn step(current: Current, observed: Observed) -> Step {
    if !(0..=current.amount_minor).contains(&observed.refunded_minor) {
        return Step::Refuse;
    }
    // Refunds are told by amount: what the provider reports as given back decides between a
    // partial and a full refund, whatever status it names.
    let target = if observed.status.was_paid() && observed.refunded_minor > 0 {
        if observed.refunded_minor == current.amount_minor {
            Status::Refunded
        } else {
            Status::PartiallyRefunded
        }
    } else if observed.status.was_paid() {
        Status::Succeeded
    } else {
        observed.status
    };
    let refunds_grow = observed.refunded_minor > current.refunded_minor;
    if target == current.status && !(target == Status::PartiallyRefunded && refunds_grow) {
        return Step::Stay;
    }
    if target.may_follow(current.status) {
        return if target.was_paid() && target != Status::Succeeded && !refunds_grow {
            // Older news than what the payment holds: a smaller refund total.
            Step::Stay
        } else {
            Step::Move {
                to: target,
                refunded_minor: observed.refunded_minor.max(current.refunded_minor),
            }
        };
    }
    if target.leads_to(current.status) {
        return Step::Stay;
    }
    // A move that passes through another status first (pending, seen refunded, succeeds).
    match Status::ALL.iter().find(|&&via| {
        via != current.status && via.may_follow(current.status) && via.leads_to(target)
    }) {
        Some(&via) => Step::Move {
            to: via,
            refunded_minor: current.refunded_minor,
        },
        None => Step::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn payment(status: Status, refunded_minor: i64) -> Current {
        Current {
            status,
            amount_minor: 1000,
            refunded_minor,
        }
    }

    fn moves(to: Status, refunded_minor: i64) -> Step {
        Step::Move { to, refunded_minor }
    }

    #[test]
    fn a_pending_payment_succeeds_fails_or_is_cancelled() {
        for to in [Succeeded, Failed, Cancelled] {
            assert_eq!(
                step(payment(Pending, 0), Observed::status(to)),
                moves(to, 0)
            );
        }
    }

    #[test]
    fn a_paid_payment_is_refunded_in_part_then_in_full() {
        assert_eq!(
            step(payment(Succeeded, 0), Observed::refunded(300)),
            moves(PartiallyRefunded, 300)
        );
        assert_eq!(
            step(payment(PartiallyRefunded, 300), Observed::refunded(600)),
            moves(PartiallyRefunded, 600)
        );
        assert_eq!(
            step(payment(PartiallyRefunded, 600), Observed::refunded(1000)),
            moves(Refunded, 1000)
        );
        assert_eq!(
            step(payment(Succeeded, 0), Observed::refunded(1000)),
            moves(Refunded, 1000)
        );
    }

    #[test]
    fn illegal_transitions_are_refused() {
        for (from, to) in [
            (Failed, Succeeded),
            (Cancelled, Succeeded),
            (Failed, Cancelled),
            (Succeeded, Failed),
            (Succeeded, Cancelled),
            (Refunded, Failed),
            (PartiallyRefunded, Cancelled),
        ] {
            assert_eq!(
                step(payment(from, 0), Observed::status(to)),
                Step::Refuse,
                "{from:?} -> {to:?}"
            );
        }
        // A failed payment cannot be refunded, nor can more than was paid.
        assert_eq!(
            step(payment(Failed, 0), Observed::refunded(100)),
            Step::Refuse
        );
        assert_eq!(
            step(payment(Succeeded, 0), Observed::refunded(1001)),
            Step::Refuse
        );
        assert_eq!(
            step(payment(Succeeded, 0), Observed::refunded(-1)),
            Step::Refuse
        );
    }

    #[test]
    fn duplicates_and_stale_observations_change_nothing() {
        assert_eq!(
            step(payment(Succeeded, 0), Observed::status(Succeeded)),
            Step::Stay
        );
        assert_eq!(
            step(payment(Failed, 0), Observed::status(Failed)),
            Step::Stay
        );
        // Seen pending or paid after a refund: older news.
        assert_eq!(
            step(payment(Succeeded, 0), Observed::status(Pending)),
            Step::Stay
        );
        assert_eq!(
            step(payment(Refunded, 1000), Observed::status(Succeeded)),
            Step::Stay
        );
        assert_eq!(
            step(payment(PartiallyRefunded, 600), Observed::refunded(300)),
            Step::Stay
        );
        assert_eq!(
            step(payment(Refunded, 1000), Observed::refunded(300)),
            Step::Stay
        );
        assert_eq!(
            step(payment(PartiallyRefunded, 300), Observed::refunded(300)),
            Step::Stay
        );
    }

    #[test]
    fn a_pending_payment_seen_refunded_succeeds_first() {
        assert_eq!(
            step(payment(Pending, 0), Observed::refunded(400)),
            moves(Succeeded, 0)
        );
        assert_eq!(
            step(payment(Succeeded, 0), Observed::refunded(400)),
            moves(PartiallyRefunded, 400)
        );
    }

    #[test]
    fn nothing_leads_back_to_pending() {
        for status in Status::ALL {
            assert!(!Pending.may_follow(status));
            assert_eq!(status.leads_to(Pending), status == Pending);
        }
        assert!(Pending.leads_to(Refunded));
        assert!(!Failed.leads_to(Succeeded));
    }
}

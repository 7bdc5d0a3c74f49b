//! The problem codes stickers answer with, besides the module's own ([`crate::errors`]).

/// Mentions, locations and personal records are only shown: they take no responses and have
/// no results (409).
pub const STICKER_TAKES_NO_RESPONSES: &str = "sticker_takes_no_responses";

/// The caller has already voted, answered, rated or followed: those are one per person (409).
pub const ALREADY_RESPONDED: &str = "already_responded";

/// The countdown has ended: it takes no more followers (409).
pub const COUNTDOWN_ENDED: &str = "countdown_ended";

/// A sticker's results show to its author and to those who responded to it (403).
pub const RESPOND_FIRST: &str = "respond_first";

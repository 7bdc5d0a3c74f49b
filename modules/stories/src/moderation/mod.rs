//! Moderation: any member reports a story they may see; admins and owners resolve each report
//! from a queue by dismissing it or removing the story. A removed story keeps its row (its
//! reports refer to it) but the visibility rule excludes it from every read, its author's
//! archive, highlights and insights included; its media is released and its author notified.

mod api;
mod model;
mod repo;
mod service;

pub use api::ModerationApi;
